// The tutorial flow with the `graphql-ws` npm client (graphql-transport-ws protocol).
import { createClient } from "graphql-ws";
import WebSocket from "ws";

import { postData, run } from "./tutorial-flow.mjs";

function graphqlWsClient({ url, wsUrl }) {
  const post = postData(url);
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
    mutate: post,
    query: post,
    connect: () => ready,
    subprotocol: () => socket.protocol,
    subscribe: (query, onEvent) =>
      client.subscribe({ query }, { next: onEvent, error: (error) => onEvent({ clientError: String(error) }), complete: () => {} }),
    queryOverWebSocket: (query) =>
      new Promise((resolve, reject) => {
        let result;
        client.subscribe({ query }, { next: (value) => (result = value), error: reject, complete: () => resolve(result) });
      }),
    close: () => client.dispose(),
  };
}

await run(graphqlWsClient);
