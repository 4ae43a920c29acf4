// The tutorial flow with the `subscriptions-transport-ws` npm client (legacy graphql-ws protocol),
// the client GraphQL Playground and older Apollo clients use.
import subscriptionsTransportWs from "subscriptions-transport-ws";
import WebSocket from "ws";

import { postData, run } from "./tutorial-flow.mjs";

const { SubscriptionClient } = subscriptionsTransportWs;

function legacyClient({ url, wsUrl }) {
  const post = postData(url);
  const client = new SubscriptionClient(wsUrl, { reconnect: false }, WebSocket);
  const ready = new Promise((resolve, reject) => {
    client.onConnected(resolve);
    client.onError(reject);
  });
  return {
    mutate: post,
    query: post,
    connect: () => ready,
    subprotocol: () => client.client.protocol,
    subscribe: (query, onEvent) => {
      const subscription = client
        .request({ query })
        .subscribe({ next: onEvent, error: (error) => onEvent({ clientError: String(error) }) });
      return () => subscription.unsubscribe();
    },
    queryOverWebSocket: (query) =>
      new Promise((resolve, reject) => {
        let result;
        client.request({ query }).subscribe({ next: (value) => (result = value), error: reject, complete: () => resolve(result) });
      }),
    close: async () => client.close(),
  };
}

await run(legacyClient);
