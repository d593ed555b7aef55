"""Write the test pickles in this directory from a reference model's persistence_tree.json.

The dict is rebuilt with numpy objects where ModelPersistence.save_model has them (classes_,
feature_names_in_ and feature_importances as arrays, each node's impurity a numpy float64
scalar, each leaf's probabilities a float64 array or None) and pickled with the protocol and
the numpy of the interpreter that runs this script. Usage (from the repository root):

    python -m venv $NP1 && $NP1/bin/pip install "numpy<2"     # 1.26.4 was used
    python -m venv $NP2 && $NP2/bin/pip install "numpy>=2"    # 2.4.6 was used
    REF=tests/data/reference                                   # the bundled reference data
    $NP1/bin/python tests/data/pickles/make_pickles.py $REF np1
    $NP2/bin/python tests/data/pickles/make_pickles.py $REF np2

($NP1 and $NP2: two scratch directories for the virtual environments.)

Only trusted input is read here: the reference's own JSON.
"""
import json
import pickle
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent


def node(d, big_endian):
    out = {}
    for k, v in d.items():
        if k == "impurity" and v is not None:
            v = np.float64(v)
        elif k == "probabilities" and v is not None:
            v = np.array(v, dtype=">f8" if big_endian else "<f8")
        elif k in ("left", "right") and v is not None:
            v = node(v, big_endian)
        out[k] = v
    return out


def persistence_dict(path, big_endian=False, object_names=False):
    d = json.loads(Path(path).read_text())
    fa = d["fitted_attributes"]
    order = ">" if big_endian else "<"
    names = np.array(fa["feature_names_in_"], dtype=object if object_names else None)
    if big_endian and not object_names:
        names = names.astype(names.dtype.newbyteorder(">"))
    d["fitted_attributes"] = {
        "classes_": np.array(fa["classes_"], dtype=order + "i8"),
        "n_classes_": fa["n_classes_"],
        "n_features_in_": fa["n_features_in_"],
        "feature_names_in_": names,
        "feature_importances": np.array(fa["feature_importances"], dtype=order + "f8"),
    }
    d["tree_structure"] = node(d["tree_structure"], big_endian)
    return d


def write(name, obj, protocol):
    data = pickle.dumps(obj, protocol=protocol)
    (OUT / name).write_bytes(data)
    print(f"{name}: {len(data)} bytes, protocol {protocol}, numpy {np.__version__}")


def main():
    ref, which = Path(sys.argv[1]), sys.argv[2]
    model = lambda m: ref / "models" / m / "persistence_tree.json"
    if which == "np1":
        write("bcd_numpy1_protocol2.pkl", persistence_dict(model("bcd_gini_d5_lgk12")), 2)
        write("pruned_numpy1_protocol2.pkl", persistence_dict(model("mushroom_gini_pruned_lgk12")), 2)
        write("bcd_numpy1_protocol5.pkl", persistence_dict(model("bcd_gini_d5_lgk12")), 5)
    else:
        write("bcd_numpy2_protocol4.pkl", persistence_dict(model("bcd_gini_d5_lgk12")), 4)
        write(
            "bcd_numpy2_protocol3_bigendian_objectnames.pkl",
            persistence_dict(model("bcd_gini_d5_lgk12"), big_endian=True, object_names=True),
            3,
        )
        write(
            "bcd_numpy2_protocol5_bigendian.pkl",
            persistence_dict(model("bcd_gini_d5_lgk12"), big_endian=True),
            5,
        )


if __name__ == "__main__":
    main()
