/**
 * Easel's typed client SDK for browsers, Node and React Native: REST helpers, one socket.io connection per
 * namespace, promise acks, token refresh and resumable streams. It imports types from the hub's pure schema
 * modules only, never server code.
 */
export { Easel, type EaselOptions, type Link, type Watch } from './connection.js';
export { EaselError, NETWORK, TIMEOUT } from './errors.js';
export { memoryStore, webStore, SessionKeeper, refreshDelay, type AuthState, type SessionStore, type StoredSession } from './session.js';
export { EventTracker, JobTracker, StudioTracker, type Cause, type EventView, type JobView, type StudioView } from './streams.js';
export type { UploadProgress } from './http.js';
export type * from './contract.js';
export type * from './studio-contract.js';
