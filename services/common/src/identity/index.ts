/** `@mercado/common/identity`: roles, and the signed identity the gateway hands to services. */
export {
  roles,
  signIdentity,
  verifyIdentity,
  identityFromGateway,
  requireRole,
  requireService,
  identityHeader,
  identitySignatureHeader,
  type Role,
  type Identity,
} from './identity.js';
