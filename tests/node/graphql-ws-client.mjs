// The tutorial flow with the `graphql-ws` npm client (graphql-transport-ws protocol).
import { createClient } from "graphql-ws";
import WebSocket from "ws";

import { run } from "./tutorial-flow.mjs";

function graphqlWsClient(wsUrl) {
  let socket = null;
  let connected;
  const ready = new Promise((resolve) => (connected = resolve));
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    lazy: false, // one socket for the whole flow, so the server sees messages in order
    retryAttempts: 0,
    on: {
      connected: (opened) => {
        socket = opened;
        connected();
      },
    },
  });
  return {
    connect: () => ready,
    subprotocol: () => socket.protocol,
    subscribe: (query, onEvent) =>
      client.subscribe({ query }, { next: onEvent, error: (error) => onEvent({ clientError: String(error) }), complete: () => {} }),
    execute: (query) =>
      new Promise((resolve, reject) => {
        let result;
        client.subscribe({ query }, { next: (value) => (result = value), error: reject, complete: () => resolve(result) });
      }),
    close: () => client.dispose(),
  };
}

await run(graphqlWsClient);
