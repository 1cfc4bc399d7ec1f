// Brands use the global symbol registry so a config that loads its own copy of
// brewkit still produces values this copy recognises.

/** Marks values made by `target()`. */
export const targetBrand = Symbol.for("brewkit.target");
/** Marks values made by `image()`. */
export const imageBrand = Symbol.for("brewkit.image");
/** Marks `scratch`. */
export const scratchBrand = Symbol.for("brewkit.scratch");
/** Marks values made by `cache()`. */
export const cacheBrand = Symbol.for("brewkit.cache");
/** Marks values made by `secret()`. */
export const secretBrand = Symbol.for("brewkit.secret");
/** Marks values made by `group()`. */
export const groupBrand = Symbol.for("brewkit.group");
/** Marks values made by `variable()`. */
export const variableBrand = Symbol.for("brewkit.variable");
/** Marks values made by `fmt`. */
export const interpolationBrand = Symbol.for("brewkit.interpolation");

/** Marks values made by `buildCache()`. */
export const buildCacheBrand = Symbol.for("brewkit.buildCache");

/** True when `value` carries `brand`. */
export function hasBrand(value: unknown, brand: symbol): boolean {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}
