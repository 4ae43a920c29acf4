// The tutorial flow with Apollo Client 3 in Node.js, without React (`@apollo/client/core`):
// queries and mutations over HttpLink, subscriptions over GraphQLWsLink (the `graphql-ws`
// client, graphql-transport-ws protocol), chosen by `split`. Apollo adds `__typename` to
// every selection set, as it does by default; the server must answer it.
import { ApolloClient, HttpLink, InMemoryCache, gql, split } from "@apollo/client/core/index.js";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions/index.js";
import { getMainDefinition } from "@apollo/client/utilities/index.js";
import { createClient } from "graphql-ws";
import WebSocket from "ws";

import { apolloAdapter } from "./apollo-adapter.mjs";
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
  return apolloAdapter({
    client,
    gql,
    wsClient,
    result: ({ data, errors }) => ({ data, errors }),
    // An ApolloError: GraphQL errors in `graphQLErrors`; a failed request in `networkError`,
    // with the body the server answered, parsed, in its `result`.
    failure: (error) => ({
      clientError: {
        name: error.name,
        message: error.message,
        errors: error.graphQLErrors?.map(({ message }) => message),
        serverErrors: error.networkError?.result?.errors?.map(({ message }) => message),
      },
    }),
  });
}

await run(apolloClient);
