/** Kept equal to the root package.json version (a test checks it). */
export const VERSION = "0.1.0";
