//! Accounts, instances and keys, made through the API by the platform admin or a manager.

use serde_json::{Value, json};

use super::http::As;
use super::server::TestServer;

impl<'a> As<'a> {
    /// Creates account `id`, named "Account {id}" (this client is the platform admin).
    pub async fn create_account(&self, id: &str) {
        let (status, answer) = self.post("/v1/accounts", json!({"name": format!("Account {id}"), "id": id})).await;
        assert_eq!(status, 201, "{answer}");
    }

    /// Creates an instance (`POST /v1/instances` with `body`); the answer.
    pub async fn create_instance(&self, body: Value) -> Value {
        let (status, instance) = self.post("/v1/instances", body).await;
        assert_eq!(status, 201, "{instance}");
        instance
    }

    /// Creates a key (`POST /v1/keys` with `body`); a client with it and this client's User-Agent.
    pub async fn new_key(&self, body: Value) -> As<'a> {
        let (status, answer) = self.post("/v1/keys", body).await;
        assert_eq!(status, 201, "{answer}");
        self.with_key(answer["secret"].as_str().unwrap())
    }

    /// A key of `role` ("`role` key") in this manager's account, narrowed to `instance` when given.
    pub async fn key(&self, role: &str, instance: Option<&str>) -> As<'a> {
        self.new_key(json!({"name": format!("{role} key"), "role": role, "instance": instance})).await
    }

    /// Creates account `id` and its manager key "officer" (principal `officer@<id>`); returns the manager.
    pub async fn account_with_manager(&self, id: &str) -> As<'a> {
        self.create_account(id).await;
        let body = json!({"account": id, "name": "officer", "role": "manager", "principal": format!("officer@{id}")});
        self.new_key(body).await
    }
}

/// An account with a manager key, made by the platform admin; returns the manager.
pub async fn account_with_manager<'a>(server: &'a TestServer, id: &str) -> As<'a> {
    server.admin().account_with_manager(id).await
}
