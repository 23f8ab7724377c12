/**
 * `@switchyard/client`: the Switchyard native-protocol client for browsers and Node
 * (docs/client.md). No dependencies; msgpack framing is opt-in through
 * `@switchyard/client/msgpack`, delta compression through `@switchyard/client/delta`.
 */
export {
  Client,
  closePolicy,
  type ClientEvents,
  type ClientOptions,
  type ClientState,
  type ClosedInfo,
  type ConnectionInfo,
  type DisconnectedInfo,
  type PublishOptions,
  type WebSocketConstructor,
  type WebSocketLike,
} from './client.js';
export { Subscription, type DeltaCodec, type SubscribeOptions, type SubscribedInfo, type SubscriptionEvents, type SubscriptionState } from './subscription.js';
export { SwitchyardError, ClientErrorName, type ServerErrorBody } from './errors.js';
export { json, type Codec } from './codec.js';
export { Emitter, type Listener } from './emitter.js';
export type { Message, PresenceEntry, PublishResult, Publisher } from './protocol.js';
