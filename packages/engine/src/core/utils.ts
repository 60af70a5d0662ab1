// mx.utils: tree helpers, as mlx.utils.
export { treeFlatten, treeUnflatten, treeMap } from "./tree.js";
