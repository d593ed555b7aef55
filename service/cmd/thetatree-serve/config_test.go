package main

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"
)

// TestAdminTokenRules (findings 3 and 5): a short token, or one with a space or control
// character inside (e.g. from a token file), is a configuration error naming the offset,
// not a token that silently never matches.
func TestAdminTokenRules(t *testing.T) {
	dir := t.TempDir()
	file := func(content string) string {
		p := filepath.Join(dir, strconv.Itoa(len(content))+".token")
		os.WriteFile(p, []byte(content), 0o600)
		return p
	}
	for _, c := range []struct {
		args []string
		want string // error substring; "" = accepted
	}{
		{[]string{"-admin-token", "short"}, "at least 16"},
		{[]string{"-admin-token-file", file("0123456789abcdef 0123\n")}, "offset 16"},
		{[]string{"-admin-token-file", file("0123456789abcdef\t0123\n")}, "offset 16"},
		{[]string{"-admin-token-file", file("0123456789abcdef\n\n")}, ""},
		{[]string{"-admin-token-file", file("0123456789abcdef\r\n")}, ""},
		{[]string{"-admin-token", "0123456789abcdéf"}, "printable ASCII"},
		{[]string{"-admin-token", strings.Repeat("x", 16)}, ""},
		{nil, ""}, // no token: admin API disabled
	} {
		_, err := parseConfig(append([]string{"-model-dir", "d"}, c.args...), noEnv, io.Discard)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%q: %v", c.args, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%q: error %v, want %q", c.args, err, c.want)
		}
	}
	c, err := parseConfig([]string{"-model-dir", "d"}, noEnv, io.Discard)
	if err != nil || c.AdminAddr != "127.0.0.1:9090" {
		t.Fatalf("default admin address %q (%v), want loopback", c.AdminAddr, err)
	}
	if c, _ := parseConfig([]string{"-model-dir", "d", "-admin-addr", "off"}, noEnv, io.Discard); c.AdminAddr != "" {
		t.Fatalf("-admin-addr off: %q", c.AdminAddr)
	}
}

type k8sDoc struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Ports []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort any    `yaml:"targetPort"`
		} `yaml:"ports"`
		Template struct {
			Spec struct {
				Containers []struct {
					Ports []struct {
						Name          string `yaml:"name"`
						ContainerPort int    `yaml:"containerPort"`
					} `yaml:"ports"`
					Env []struct {
						Name  string `yaml:"name"`
						Value string `yaml:"value"`
					} `yaml:"env"`
					Resources struct {
						Limits map[string]string `yaml:"limits"`
					} `yaml:"resources"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
	Resources []string `yaml:"resources"`
}

func readK8s(t *testing.T, name string) k8sDoc {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "k8s", name))
	if err != nil {
		t.Fatal(err)
	}
	var d k8sDoc
	if err := yaml.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

func mebibytes(t *testing.T, q string) int64 {
	t.Helper()
	for suffix, mul := range map[string]int64{"Mi": 1 << 20, "MiB": 1 << 20, "Gi": 1 << 30, "GiB": 1 << 30} {
		if n, err := strconv.ParseInt(strings.TrimSuffix(q, suffix), 10, 64); err == nil && strings.HasSuffix(q, suffix) {
			return n * mul
		}
	}
	t.Fatalf("quantity %q", q)
	return 0
}

// TestManifests (findings 2 and 3): `kubectl apply -k` ships no Secret (so never overwrites
// the real one with a placeholder), the Service and the pod expose only the public port, the
// admin listener is loopback, and the configured memory bounds fit the container limit.
func TestManifests(t *testing.T) {
	kust := readK8s(t, "kustomization.yaml")
	var cm, deploy, svc k8sDoc
	for _, r := range kust.Resources {
		d := readK8s(t, r)
		switch d.Kind {
		case "Secret":
			t.Errorf("the kustomization applies the Secret in %s: it would overwrite the real one", r)
		case "ConfigMap":
			cm = d
		case "Deployment":
			deploy = d
		case "Service":
			svc = d
		}
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort != "http" {
		t.Errorf("Service ports %+v: want only the public port", svc.Spec.Ports)
	}
	ctr := deploy.Spec.Template.Spec.Containers[0]
	if len(ctr.Ports) != 1 || ctr.Ports[0].Name != "http" || strconv.Itoa(ctr.Ports[0].ContainerPort) != cm.Data["PORT"] {
		t.Errorf("container ports %+v: want only http on PORT", ctr.Ports)
	}
	host, _, err := net.SplitHostPort(cm.Data["ADMIN_ADDR"])
	if err != nil || !net.ParseIP(host).IsLoopback() {
		t.Errorf("ADMIN_ADDR %q is not loopback", cm.Data["ADMIN_ADDR"])
	}
	cfg, err := parseConfig(nil, func(k string) string { return cm.Data[k] }, io.Discard)
	if err != nil {
		t.Fatalf("the ConfigMap's settings: %v", err)
	}
	limit := mebibytes(t, ctr.Resources.Limits["memory"])
	var memLimit int64
	for _, e := range ctr.Env {
		if e.Name == "GOMEMLIMIT" {
			memLimit = mebibytes(t, e.Value)
		}
	}
	// Requests in flight, plus connection state, plus what the process holds anyway.
	need := cfg.MaxInflightBytes + int64(cfg.MaxConnections)*(16<<10) + rssConstant
	if memLimit == 0 || memLimit >= limit || need > memLimit {
		t.Errorf("memory: limit %d MiB, GOMEMLIMIT %d MiB, bounds need %d MiB", limit>>20, memLimit>>20, need>>20)
	}
}
