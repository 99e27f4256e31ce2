// CSS imports are bundled by esbuild into app-[hash].css.
declare module "*.css";
