package io.thetatree;

/** Child-JVM probe for NativeLoaderTest: prints how the native library was loaded. */
public final class LoaderProbe {
    private LoaderProbe() {}

    public static void main(String[] args) {
        System.out.println("loadedFrom=" + NativeLoader.loadedFrom());
        System.out.println("abi=" + Model.abiVersion());
        System.out.println("version=" + Model.libraryVersion());
    }
}
