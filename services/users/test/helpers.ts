// This service's test helpers are its declared test export (src/testing.ts, `@mercado/users/testing`),
// so other components' tests start it the same way its own tests do.
export * from '../src/testing.js';
