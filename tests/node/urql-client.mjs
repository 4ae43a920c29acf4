// The tutorial flow with urql (`@urql/core`) in Node.js: queries and mutations through
// cacheExchange and fetchExchange over HTTP, subscriptions through subscriptionExchange
// forwarding to the `graphql-ws` client (graphql-transport-ws protocol), as urql's
// documentation wires it. urql's cacheExchange adds `__typename` to queries and mutations.
import { cacheExchange, Client, fetchExchange, subscriptionExchange } from "@urql/core";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

import { run } from "./tutorial-flow.mjs";

function urqlClient({ url, wsUrl }) {
  const wsClient = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
  const client = new Client({
    url,
    exchanges: [
      cacheExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || "" };
          return {
            subscribe(sink) {
              const unsubscribe = wsClient.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
        isSubscriptionOperation: (operation) =>
          operation.kind === "subscription" || operation.context.overWebSocket === true,
      }),
      fetchExchange,
    ],
  });
  const result = ({ data, error }) => ({
    data,
    errors: error && error.graphQLErrors.map(({ message }) => ({ message })),
    clientError: error && !error.graphQLErrors.length ? error.message : undefined,
  });
  return {
    query: async (query, variables) =>
      result(await client.query(query, variables, { requestPolicy: "network-only" }).toPromise()),
    queryOverWebSocket: async (query) =>
      result(await client.query(query, {}, { requestPolicy: "network-only", overWebSocket: true }).toPromise()),
    mutate: async (mutation, variables) => result(await client.mutation(mutation, variables).toPromise()),
    subscribe: (query, onEvent) => {
      const subscription = client.subscription(query, {}).subscribe((event) => onEvent(result(event)));
      return () => subscription.unsubscribe();
    },
    close: () => wsClient.dispose(),
  };
}

await run(urqlClient);
