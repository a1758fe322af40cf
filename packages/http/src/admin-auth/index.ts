export * from "./guard.js";
