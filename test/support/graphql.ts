import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import request from 'supertest';

export interface GraphQLResponse<T> {
  status: number;
  headers: Record<string, string>;
  data: T | null | undefined;
  errors:
    Array<{ message: string; path?: string[]; extensions?: Record<string, unknown> }> | undefined;
  body: Record<string, unknown>;
}

/** POSTs a typed operation to a running server over real HTTP. */
export async function gql<TResult, TVariables>(
  baseUrl: string,
  document: TypedDocumentNode<TResult, TVariables> | string,
  options: { variables?: TVariables; token?: string; headers?: Record<string, string> } = {},
): Promise<GraphQLResponse<TResult>> {
  let req = request(baseUrl)
    .post('/graphql')
    .set('content-type', 'application/json')
    .set('accept', 'application/graphql-response+json, application/json');
  if (options.token) req = req.set('authorization', `Bearer ${options.token}`);
  for (const [name, value] of Object.entries(options.headers ?? {})) req = req.set(name, value);
  const res = await req.send({
    query: typeof document === 'string' ? document : print(document),
    variables: options.variables ?? {},
  });
  const body = res.body as Record<string, unknown>;
  return {
    status: res.status,
    headers: res.headers as Record<string, string>,
    data: body['data'] as TResult | null | undefined,
    errors: body['errors'] as GraphQLResponse<TResult>['errors'],
    body,
  };
}
