export { composeTally, type ComposedTally } from './tally';
export { listenStarting, type Listener } from './listener';
export { serverUrls, type ServerUrls } from './urls';
