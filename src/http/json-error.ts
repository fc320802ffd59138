/** The body of an HTTP error outside GraphQL, shaped like a GraphQL error (API.md's codes). */
export function jsonError(code: string, message: string) {
  return { errors: [{ message, extensions: { code } }] };
}
