"""Conversations: the chat history store and the logic that turns a conversation into model prompts."""
