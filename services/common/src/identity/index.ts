/**
 * `@mercado/common/identity`: roles, the signed identity the gateway (or another service) hands to
 * a service, and the access an operation declares.
 */
export {
  roles,
  signIdentity,
  verifyIdentity,
  identityFromGateway,
  identityHeader,
  identitySignatureHeader,
  type Role,
  type Identity,
} from './identity.js';
export {
  isServiceAccess,
  type Access,
  type ServiceAccess,
  type CallerOf,
  type SignedInIdentity,
  type ServiceIdentity,
} from './access.js';
export { accessTokenAlgorithms, isAccessTokenFault, joseErrorCode } from './access-token.js';
