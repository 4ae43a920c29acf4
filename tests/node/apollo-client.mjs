// The tutorial flow with Apollo Client 3 in Node.js, without React (`@apollo/client/core`):
// queries and mutations over HttpLink, subscriptions over GraphQLWsLink (the `graphql-ws`
// client, graphql-transport-ws protocol), chosen by `split`. Apollo adds `__typename` to
// every selection set, as it does by default; the server must answer it.
import { ApolloClient, HttpLink, InMemoryCache, gql, split } from "@apollo/client/core/index.js";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions/index.js";
import { getMainDefinition } from "@apollo/client/utilities/index.js";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

import { run } from "./tutorial-flow.mjs";

function apolloClient({ url, wsUrl }) {
  const wsClient = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
  const isSubscription = ({ query }) => {
    const definition = getMainDefinition(query);
    return definition.kind === "OperationDefinition" && definition.operation === "subscription";
  };
  const client = new ApolloClient({
    cache: new InMemoryCache(),
    link: split(
      (operation) => isSubscription(operation) || operation.getContext().overWebSocket === true,
      new GraphQLWsLink(wsClient),
      new HttpLink({ uri: url }),
    ),
  });
  const result = ({ data, errors }) => ({ data, errors });
  return {
    query: async (query, variables) => result(await client.query({ query: gql(query), variables, fetchPolicy: "no-cache" })),
    queryOverWebSocket: async (query) =>
      result(await client.query({ query: gql(query), fetchPolicy: "no-cache", context: { overWebSocket: true } })),
    mutate: async (mutation, variables) => result(await client.mutate({ mutation: gql(mutation), variables })),
    subscribe: (query, onEvent) => {
      const subscription = client.subscribe({ query: gql(query), fetchPolicy: "no-cache" }).subscribe({
        next: (event) => onEvent(result(event)),
        error: (error) => onEvent({ clientError: String(error) }),
      });
      return () => subscription.unsubscribe();
    },
    close: async () => {
      client.stop();
      await wsClient.dispose();
    },
  };
}

await run(apolloClient);
