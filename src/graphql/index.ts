export { buildTallySchema } from './schema';
export { createGraphQLHttp, type GraphQLHttp } from './apollo';
export { createGraphQLWs, type GraphQLWs } from './ws';
export type { GraphQLServices, GraphQLContext } from './context';
export { HTTP_STATUS, MASKED_MESSAGE } from './errors';
export { MAX_INTROSPECTION_DEPTH } from './limits';
