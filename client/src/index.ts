/**
 * `@switchyard/client`: the Switchyard native-protocol client for browsers and Node
 * (docs/client.md). No dependencies; msgpack framing is opt-in through
 * `@switchyard/client/msgpack`, delta compression through `@switchyard/client/delta`.
 */
export { Client } from './client.js';
export { closePolicy } from './reconnect.js';
export type {
  ClientEvents,
  ClientOptions,
  ClientState,
  ClosedInfo,
  ConnectionInfo,
  DisconnectedInfo,
  PublishOptions,
  WebSocketConstructor,
  WebSocketLike,
} from './options.js';
export { Subscription, type DeltaCodec, type SubscribeOptions, type SubscribedInfo, type SubscriptionEvents, type SubscriptionState } from './subscription.js';
export { SwitchyardError, ClientErrorName, type ServerErrorBody } from './errors.js';
export { json, type Codec } from './codec.js';
export { Emitter, type Listener } from './emitter.js';
export type { Message, PresenceEntry, PublishResult, Publisher } from './protocol.js';
