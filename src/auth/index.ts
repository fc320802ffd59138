export { ANONYMOUS, ROLES, type Caller, type Role } from './caller';
export { TokenVerifier, signToken, type TokenVerifierOptions } from './token-verifier';
