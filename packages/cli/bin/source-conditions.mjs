// Node module resolve hook for development: the "development" export condition makes the
// @talos/* workspace packages resolve to their TypeScript sources instead of dist/.
export async function resolve(specifier, context, nextResolve) {
  if (context.conditions.includes("development")) return nextResolve(specifier, context);
  return nextResolve(specifier, { ...context, conditions: [...context.conditions, "development"] });
}
