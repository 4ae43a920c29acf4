"""The tutorial's operations, verbatim as users paste them (shared/tutorial-operations.md)."""

CREATE_USER_ONE = """
mutation {
  createUser(username:"user_one") {
    success
    user {
      userId
      username
    }
  }
}
"""

CREATE_USER_TWO = CREATE_USER_ONE.replace("user_one", "user_two")

USER_ID = """
query {
  userId(username:"user_one")
}
"""

SUBSCRIBE_USER_TWO = """
subscription {
  messages(userId: "2") {
    content
    senderId
    recipientId
  }
}
"""

SEND_HELLO = """
mutation {
  createMessage(
    senderId: "1",
    recipientId: "2",
    content:"Hello there"
  ) {
    success
    message {
      content
      recipientId
      senderId
    }
  }
}
"""

MESSAGES_USER_TWO = """
query {
  messages(userId: "2") {
    success
    messages {
      content
      senderId
      recipientId
    }
  }
}
"""

# Parametrised forms used by the other tests.
CREATE_USER = """
mutation ($username: String!) {
  createUser(username: $username) { success errors user { userId username } }
}
"""

SEND = """
mutation ($from: String, $to: String, $content: String) {
  createMessage(senderId: $from, recipientId: $to, content: $content) {
    success errors message { content senderId recipientId }
  }
}
"""

SUBSCRIBE = """
subscription ($userId: String) {
  messages(userId: $userId) { content senderId recipientId }
}
"""

MESSAGES = """
query ($userId: String!) {
  messages(userId: $userId) { success errors messages { content senderId recipientId } }
}
"""

# History and resuming (additions to the tutorial's API).
HISTORY_PAGE = """
query ($userId: String!, $after: ID, $before: ID, $limit: Int) {
  messages(userId: $userId, after: $after, before: $before, limit: $limit) {
    success errors hasMore messages { id createdAt content senderId recipientId }
  }
}
"""

SUBSCRIBE_AFTER = """
subscription ($userId: String, $after: ID, $includeSent: Boolean) {
  messages(userId: $userId, after: $after, includeSent: $includeSent) {
    id createdAt content senderId recipientId
  }
}
"""
