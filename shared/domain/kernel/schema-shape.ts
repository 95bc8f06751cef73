/**
 * Compile-time proof that a zod schema describes exactly a TypeScript type an answer is built with: the OpenAPI
 * document is generated from the schema, the answer from the type, and `SameShape` makes them one. A field added to
 * (or dropped from) either side, or a changed type, fails `tsc` (types only: nothing of this runs).
 *
 *   const _shape: SameShape<z.output<typeof DisputeSchema>, Dispute> = true;
 *
 * Readonly-ness and optional-vs-`| undefined` are ignored (zod's outputs are mutable); everything else must match:
 * keys, nullability, literal unions, array element types, nested objects.
 */
type Plain<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends readonly (infer E)[]
    ? Plain<E>[]
    : T extends object
      ? { -readonly [K in keyof T]-?: Plain<Exclude<T[K], undefined>> | (undefined extends T[K] ? undefined : never) }
      : T;

type Equals<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;

export type SameShape<A, B> = Equals<Plain<A>, Plain<B>>;

/** A schema's output as answers are built: read-only all the way down (the domain's types are). */
export type DeepReadonly<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends readonly (infer E)[]
    ? readonly DeepReadonly<E>[]
    : T extends object
      ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
      : T;
