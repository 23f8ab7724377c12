// uWebSockets.js exports these at runtime, but its typings lack them.
import 'uWebSockets.js';

declare module 'uWebSockets.js' {
  /** Listen option: fail instead of sharing a port that another socket holds (no SO_REUSEPORT). */
  export const LIBUS_LISTEN_EXCLUSIVE_PORT: number;
  interface TemplatedApp {
    listen(
      host: RecognizedString,
      port: number,
      options: number,
      cb: (listenSocket: us_listen_socket | false) => void | Promise<void>,
    ): TemplatedApp;
    /** This app as a child of an acceptor app on another thread (a structured-cloneable handle). */
    getDescriptor(): unknown;
    /** An acceptor hands each accepted socket to one of its children, round robin. */
    addChildAppDescriptor(descriptor: unknown): TemplatedApp;
    removeChildAppDescriptor(descriptor: unknown): TemplatedApp;
  }
}
