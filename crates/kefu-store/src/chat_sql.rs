//! The chat's SQL (SPEC §2), shared by both engines like [`crate::sql`]: `chat_helpers!`
//! expands to transaction helpers on the store, `chat_impl!` to the [`crate::ChatStore`] implementation.
//!
//! Every change of a conversation first updates its row (`take`): PostgreSQL then holds the
//! row's lock and SQLite the write lock until commit, so sequence numbers have no gaps and a
//! retried message is seen by the second writer. Routing and transfers also take the shop's
//! shop's lock (`$lock_shop`: its row in PostgreSQL), since they read every agent's load before assigning.

macro_rules! conversation_columns {
    () => {
        "id, shop_id, visitor, buyer_nick, channel, skill_group, state, agent_id, last_seq, buyer_read_seq, agent_read_seq,
         created_at, queued_at, assigned_at, closed_at, buyer_waiting_since, agent_answered, last_activity_at"
    };
}
pub(crate) use conversation_columns;

/// SQLite's one-statement message (see `append_fast`), up to the condition that ends it.
macro_rules! agent_status_query {
    () => {
        "SELECT a.id, a.display_name, a.role, a.skill_group, a.takes_chats, CAST(a.capacity AS BIGINT) AS capacity,
                a.disabled, a.created_at, p.status, p.since, p.idle_since,
                (SELECT COUNT(*) FROM conversations c WHERE c.shop_id = a.shop_id AND c.agent_id = a.id AND c.state = 'assigned') AS load
         FROM accounts a LEFT JOIN agent_presence p ON p.account_id = a.id
         WHERE a.shop_id = $1 ORDER BY a.created_at, a.id"
    };
}
pub(crate) use agent_status_query;

macro_rules! chat_helpers {
    ($store:ty, $db:ty, $begin_write:literal) => {
        impl $store {
            /// Reads the conversation for change, taking its row (see the module's doc).
            async fn take_conversation(tx: &mut sqlx::Transaction<'static, $db>, shop: ShopId, id: ConversationId) -> Result<Conversation> {
                sqlx::query_as::<_, ConversationRow>(concat!(
                    "UPDATE conversations SET last_seq = last_seq WHERE shop_id = $1 AND id = $2 RETURNING ",
                    conversation_columns!()
                ))
                .bind(shop.0).bind(id.0).fetch_optional(&mut **tx).await?
                .ok_or(StoreError::NotFound)?
                .try_into()
            }

            async fn save_conversation(tx: &mut sqlx::Transaction<'static, $db>, c: &Conversation) -> Result<()> {
                sqlx::query(
                    "UPDATE conversations SET buyer_nick = $3, skill_group = $4, state = $5, agent_id = $6, last_seq = $7,
                        buyer_read_seq = $8, agent_read_seq = $9, queued_at = $10, assigned_at = $11, closed_at = $12,
                        buyer_waiting_since = $13, agent_answered = $14, last_activity_at = $15
                     WHERE shop_id = $1 AND id = $2",
                )
                .bind(c.shop_id.0).bind(c.id.0).bind(&c.buyer_nick).bind(c.skill_group.as_ref().map(|g| g.as_str()))
                .bind(c.state.as_str()).bind(c.agent_id.map(|a| a.0)).bind(c.last_seq).bind(c.buyer_read_seq)
                .bind(c.agent_read_seq).bind(c.queued_at).bind(c.assigned_at).bind(c.closed_at).bind(c.buyer_waiting_since)
                .bind(c.agent_answered).bind(c.last_activity_at)
                .execute(&mut **tx).await?;
                Ok(())
            }

            /// Stores the event with the conversation's next sequence number (the caller saves
            /// the conversation).
            async fn insert_event(
                tx: &mut sqlx::Transaction<'static, $db>,
                c: &mut Conversation,
                sender: Sender,
                client_id: Option<&str>,
                body: EventBody,
                at: DateTime<Utc>,
            ) -> Result<Event> {
                c.last_seq += 1;
                let (role, sender_id) = sender_columns(&sender);
                let json = serde_json::to_value(&body).map_err(|e| StoreError::Corrupt(format!("event body: {e}")))?;
                sqlx::query(
                    "INSERT INTO conversation_events (conversation_id, seq, shop_id, sender, sender_id, client_id, body, at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(c.id.0).bind(c.last_seq).bind(c.shop_id.0).bind(role).bind(sender_id).bind(client_id).bind(Json(json)).bind(at)
                .execute(&mut **tx).await?;
                let document = body.searchable_text(&sender).map(|text| Self::search_document(c.shop_id, at, text));
                Self::index_event(tx, c.shop_id, c.id, c.last_seq, at, document.as_deref()).await?;
                Ok(Event { conversation_id: c.id, seq: c.last_seq, sender, client_id: client_id.map(str::to_string), body, at })
            }

            /// The event's row in the search index (see `search_sql.rs`), in the event's
            /// transaction; `document` is `Self::search_document` of its searchable text, `None`
            /// for an event search does not find.
            async fn index_event(
                tx: &mut sqlx::Transaction<'static, $db>,
                shop: ShopId,
                conversation: ConversationId,
                seq: i64,
                at: DateTime<Utc>,
                document: Option<&str>,
            ) -> Result<()> {
                if let Some(document) = document {
                    sqlx::query(Self::INDEX_EVENT)
                        .bind(shop.0).bind(conversation.0).bind(seq).bind(at).bind(document)
                        .execute(&mut **tx).await?;
                }
                Ok(())
            }

            /// Records that the agent had the conversation (an agent searches those).
            async fn note_agent(tx: &mut sqlx::Transaction<'static, $db>, conversation: ConversationId, agent: AccountId) -> Result<()> {
                sqlx::query("INSERT INTO conversation_agents (conversation_id, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(conversation.0).bind(agent.0).execute(&mut **tx).await?;
                Ok(())
            }

            /// Indexes the events of up to `conversations` conversations stored before the search
            /// index existed (migration 0010's `search_backfill`), one transaction; returns how
            /// many conversations it did (0: nothing is left).
            pub(crate) async fn backfill_search(writer: &sqlx::Pool<$db>, conversations: i64) -> Result<usize> {
                let mut tx = writer.begin_with($begin_write).await?;
                let picked: Vec<(Uuid, i64)> = sqlx::query_as(Self::BACKFILL_PICK)
                    .bind(conversations).fetch_all(&mut *tx).await?;
                for (id, up_to) in &picked {
                    let shop: Option<(Uuid,)> = sqlx::query_as("SELECT shop_id FROM conversations WHERE id = $1")
                        .bind(id).fetch_optional(&mut *tx).await?;
                    if let Some((shop,)) = shop {
                        let events: Vec<EventRow> = sqlx::query_as(
                            "SELECT conversation_id, seq, sender, sender_id, client_id, body, at FROM conversation_events
                             WHERE conversation_id = $1 AND seq <= $2 AND sender <> 'system' ORDER BY seq",
                        )
                        .bind(id).bind(up_to).fetch_all(&mut *tx).await?;
                        for row in events {
                            let e = Event::try_from(row)?;
                            let document = e.body.searchable_text(&e.sender).map(|text| Self::search_document(ShopId(shop), e.at, text));
                            Self::index_event(&mut tx, ShopId(shop), e.conversation_id, e.seq, e.at, document.as_deref()).await?;
                        }
                    }
                    sqlx::query("DELETE FROM search_backfill WHERE conversation_id = $1").bind(id).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(picked.len())
            }

            /// When the index was made by another version of the search terms
            /// (`kefu_bot::search_terms::VERSION`), empties it and lists every conversation
            /// for the backfill: the background then indexes everything again, as new
            /// messages are indexed as they come.
            pub(crate) async fn check_search_version(writer: &sqlx::Pool<$db>) -> Result<()> {
                let mut tx = writer.begin_with($begin_write).await?;
                let (stored,): (i64,) = sqlx::query_as(Self::SEARCH_VERSION).fetch_one(&mut *tx).await?;
                if stored != kefu_bot::search_terms::VERSION {
                    tracing::info!(from = stored, to = kefu_bot::search_terms::VERSION,
                        "search terms changed: indexing every chat message again, in the background");
                    sqlx::query(Self::CLEAR_INDEX).execute(&mut *tx).await?;
                    sqlx::query(
                        "INSERT INTO search_backfill (conversation_id, up_to_seq)
                         SELECT id, last_seq FROM conversations WHERE last_seq > 0
                         ON CONFLICT (conversation_id) DO UPDATE SET up_to_seq = excluded.up_to_seq",
                    )
                    .execute(&mut *tx).await?;
                    sqlx::query("UPDATE search_meta SET terms_version = $1")
                        .bind(kefu_bot::search_terms::VERSION).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            /// Runs [`Self::backfill_search`] in the background until nothing is left.
            pub(crate) fn start_backfill(writer: sqlx::Pool<$db>) {
                tokio::spawn(async move {
                    let mut done = 0;
                    loop {
                        match Self::backfill_search(&writer, 20).await {
                            Ok(0) => break,
                            Ok(n) => done += n,
                            Err(e) => {
                                if !writer.is_closed() {
                                    tracing::warn!(error = %e, "indexing earlier chat messages for search");
                                }
                                return;
                            }
                        }
                    }
                    if done > 0 {
                        tracing::info!(conversations = done, "indexed earlier chat messages for search");
                    }
                });
            }

            #[allow(clippy::too_many_arguments)]
            async fn stat(
                tx: &mut sqlx::Transaction<'static, $db>,
                shop: ShopId,
                kind: StatKind,
                at: DateTime<Utc>,
                conversation: Option<ConversationId>,
                account: Option<AccountId>,
                value_ms: Option<i64>,
                data: Option<&str>,
            ) -> Result<()> {
                sqlx::query(
                    "INSERT INTO stat_events (id, shop_id, kind, at, conversation_id, account_id, value_ms, data)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(Uuid::now_v7()).bind(shop.0).bind(kind.as_str()).bind(at).bind(conversation.map(|c| c.0))
                .bind(account.map(|a| a.0)).bind(value_ms).bind(data)
                .execute(&mut **tx).await?;
                Ok(())
            }

            /// The event a sender already sent with this client id, if any.
            async fn sent_before(&self, id: ConversationId, role: &str, sender_id: Option<Uuid>, client_id: Option<&str>) -> Result<Option<Event>> {
                let Some(client_id) = client_id else { return Ok(None) };
                let first: Option<EventRow> = sqlx::query_as(
                    "SELECT conversation_id, seq, sender, sender_id, client_id, body, at FROM conversation_events
                     WHERE conversation_id = $1 AND sender = $2 AND client_id = $3 AND ($4 IS NULL OR sender_id = $4)",
                )
                .bind(id.0).bind(role).bind(client_id).bind(sender_id).fetch_optional(&self.writer).await?;
                first.map(Event::try_from).transpose()
            }

            async fn agent_statuses(tx: &mut sqlx::Transaction<'static, $db>, shop: ShopId) -> Result<Vec<AgentStatus>> {
                sqlx::query_as::<_, AgentStatusRow>(agent_status_query!())
                    .bind(shop.0).fetch_all(&mut **tx).await?
                    .into_iter().map(AgentStatus::try_from).collect()
            }
        }
    };
}
pub(crate) use chat_helpers;

macro_rules! chat_impl {
    ($store:ty, $db:ty, $engine:literal, $begin_write:literal, $lock_shop:literal) => {
        #[async_trait]
        impl ChatStore for $store {
        async fn create_conversation(&self, c: &Conversation) -> Result<()> {
            sqlx::query(concat!("INSERT INTO conversations (", conversation_columns!(), ")
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"))
                .bind(c.id.0).bind(c.shop_id.0).bind(&c.visitor).bind(&c.buyer_nick).bind(&c.channel)
                .bind(c.skill_group.as_ref().map(|g| g.as_str())).bind(c.state.as_str()).bind(c.agent_id.map(|a| a.0))
                .bind(c.last_seq).bind(c.buyer_read_seq).bind(c.agent_read_seq).bind(c.created_at).bind(c.queued_at)
                .bind(c.assigned_at).bind(c.closed_at).bind(c.buyer_waiting_since).bind(c.agent_answered).bind(c.last_activity_at)
                .execute(&self.writer).await?;
            Ok(())
        }

        async fn conversation(&self, shop: ShopId, id: ConversationId) -> Result<Option<Conversation>> {
            sqlx::query_as::<_, ConversationRow>(concat!("SELECT ", conversation_columns!(), " FROM conversations WHERE shop_id = $1 AND id = $2"))
                .bind(shop.0).bind(id.0).fetch_optional(&self.pool).await?.map(Conversation::try_from).transpose()
        }

        async fn visitor_conversation(&self, shop: ShopId, visitor: &str) -> Result<Option<Conversation>> {
            sqlx::query_as::<_, ConversationRow>(concat!("SELECT ", conversation_columns!(),
                " FROM conversations WHERE shop_id = $1 AND visitor = $2 ORDER BY created_at DESC, id DESC LIMIT 1"))
                .bind(shop.0).bind(visitor).fetch_optional(&self.pool).await?.map(Conversation::try_from).transpose()
        }

        async fn agent_conversations(&self, shop: ShopId, agent: AccountId) -> Result<Vec<Conversation>> {
            sqlx::query_as::<_, ConversationRow>(concat!("SELECT ", conversation_columns!(),
                " FROM conversations WHERE shop_id = $1 AND agent_id = $2 AND state = 'assigned' ORDER BY assigned_at, id"))
                .bind(shop.0).bind(agent.0).fetch_all(&self.pool).await?
                .into_iter().map(Conversation::try_from).collect()
        }

        async fn queued_conversations(&self, shop: ShopId) -> Result<Vec<Conversation>> {
            sqlx::query_as::<_, ConversationRow>(concat!("SELECT ", conversation_columns!(),
                " FROM conversations WHERE shop_id = $1 AND state = 'queued' ORDER BY queued_at, id"))
                .bind(shop.0).fetch_all(&self.pool).await?
                .into_iter().map(Conversation::try_from).collect()
        }

        async fn append_event(&self, shop: ShopId, id: ConversationId, new: &NewEvent) -> Result<Appended> {
            if $engine == "sqlite"
                && let Some(done) = self.append_fast(shop, id, new).await?
            {
                return Ok(done);
            }
            // Segmented before the write lock is taken.
            let document = new.body.searchable_text(&new.sender).map(|text| Self::search_document(shop, new.at, text));
            // Few statements: each is a round trip to SQLite's connection thread, and a busy
            // shop's messages queue behind one another for the write lock.
            let mut tx = self.writer.begin_with($begin_write).await?;
            // Taken and advanced in one statement: the event's number is the new last_seq.
            let row: Option<ConversationRow> = sqlx::query_as(concat!(
                "UPDATE conversations SET last_seq = last_seq + 1, last_activity_at = $3 WHERE shop_id = $1 AND id = $2 RETURNING ",
                conversation_columns!()
            ))
            .bind(shop.0).bind(id.0).bind(new.at).fetch_optional(&mut *tx).await?;
            let mut c: Conversation = row.ok_or(StoreError::NotFound)?.try_into()?;
            let at = new.at;
            let (waiting, answered) = (c.buyer_waiting_since, c.agent_answered);
            let mut stats = Vec::new();
            let refused = match (&new.body, new.sender) {
                (EventBody::Message { .. }, Sender::Buyer) => {
                    if matches!(c.state, ConversationState::Queued | ConversationState::Assigned) && c.buyer_waiting_since.is_none() {
                        c.buyer_waiting_since = Some(at);
                    }
                    (c.state == ConversationState::Closed).then_some("the chat is closed")
                }
                (EventBody::Message { .. }, Sender::Agent(agent)) => {
                    if c.state != ConversationState::Assigned || c.agent_id != Some(agent) {
                        Some("this chat is not with you")
                    } else {
                        if let Some(since) = c.buyer_waiting_since.take() {
                            stats.push((StatKind::ReplyWait, Some((at - since).num_milliseconds().max(0))));
                        }
                        if !c.agent_answered {
                            c.agent_answered = true;
                            stats.push((StatKind::FirstResponse, c.assigned_at.map(|a| (at - a).num_milliseconds().max(0))));
                        }
                        None
                    }
                }
                _ => None,
            };
            let (role, sender_id) = sender_columns(&new.sender);
            if let Some(why) = refused {
                tx.rollback().await?;
                // A retry of a message stored before the chat changed is still only acknowledged.
                return match self.sent_before(id, role, sender_id, new.client_id.as_deref()).await? {
                    Some(first) => Ok(Appended { event: first, conversation: c, duplicate: true }),
                    None => Err(StoreError::Refused(why.into())),
                };
            }
            let json = serde_json::to_value(&new.body).map_err(|e| StoreError::Corrupt(format!("event body: {e}")))?;
            let inserted = sqlx::query(
                "INSERT INTO conversation_events (conversation_id, seq, shop_id, sender, sender_id, client_id, body, at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(id.0).bind(c.last_seq).bind(shop.0).bind(role).bind(sender_id).bind(new.client_id.as_deref())
            .bind(Json(json)).bind(at)
            .execute(&mut *tx).await;
            match inserted {
                // The client id is taken: a retry, answered with the first one.
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() && new.client_id.is_some() => {
                    tx.rollback().await?;
                    let first = self.sent_before(id, role, sender_id, new.client_id.as_deref()).await?
                        .ok_or_else(|| StoreError::Conflict("client_id was used by someone else in this chat".into()))?;
                    let c = self.conversation(shop, id).await?.ok_or(StoreError::NotFound)?;
                    return Ok(Appended { event: first, conversation: c, duplicate: true });
                }
                Err(e) => return Err(e.into()),
                Ok(_) => {}
            }
            Self::index_event(&mut tx, shop, id, c.last_seq, at, document.as_deref()).await?;
            if c.buyer_waiting_since != waiting || c.agent_answered != answered {
                Self::save_conversation(&mut tx, &c).await?;
            }
            for (kind, value) in stats {
                Self::stat(&mut tx, shop, kind, at, Some(id), c.agent_id, value, None).await?;
            }
            if let (EventBody::Message { compliance, .. }, Sender::Agent(agent)) = (&new.body, new.sender)
                && !compliance.is_empty()
            {
                let mut kinds: Vec<&str> = compliance.iter().map(|f| f.kind.as_str()).collect();
                kinds.dedup();
                Self::stat(&mut tx, shop, StatKind::ComplianceWarning, at, Some(id), Some(agent), None, Some(&kinds.join(","))).await?;
            }
            tx.commit().await?;
            let event = Event { conversation_id: id, seq: c.last_seq, sender: new.sender, client_id: new.client_id.clone(), body: new.body.clone(), at };
            Ok(Appended { event, conversation: c, duplicate: false })
        }

        async fn transition(&self, shop: ShopId, id: ConversationId, t: &Transition, now: DateTime<Utc>) -> Result<Appended> {
            let mut tx = self.writer.begin_with($begin_write).await?;
            let mut c = Self::take_conversation(&mut tx, shop, id).await?;
            let agent = c.agent_id;
            let body = c.apply(t, now).map_err(StoreError::Refused)?;
            match t {
                Transition::Handoff { reason, .. } => {
                    let data = serde_json::to_value(reason).ok().and_then(|v| v.as_str().map(str::to_string));
                    Self::stat(&mut tx, shop, StatKind::Received, now, Some(id), None, None, data.as_deref()).await?;
                }
                Transition::Close { reason } => {
                    let data = serde_json::to_value(reason).ok().and_then(|v| v.as_str().map(str::to_string));
                    Self::stat(&mut tx, shop, StatKind::Closed, now, Some(id), agent, None, data.as_deref()).await?;
                }
                _ => {}
            }
            let event = Self::insert_event(&mut tx, &mut c, Sender::System, None, body, now).await?;
            Self::save_conversation(&mut tx, &c).await?;
            tx.commit().await?;
            Ok(Appended { event, conversation: c, duplicate: false })
        }

        async fn route_queue(&self, shop: ShopId, now: DateTime<Utc>) -> Result<Vec<Appended>> {
            let mut tx = self.writer.begin_with($begin_write).await?;
            sqlx::query($lock_shop).bind(shop.0).execute(&mut *tx).await?;
            let agents = Self::agent_statuses(&mut tx, shop).await?;
            let mut loads: Vec<AgentLoad> = agents.iter().map(AgentStatus::routing).collect();
            let queued: Vec<Conversation> = sqlx::query_as::<_, ConversationRow>(concat!("SELECT ", conversation_columns!(),
                " FROM conversations WHERE shop_id = $1 AND state = 'queued' ORDER BY queued_at, id"))
                .bind(shop.0).fetch_all(&mut *tx).await?
                .into_iter().map(Conversation::try_from).collect::<Result<_>>()?;
            let mut assigned = Vec::new();
            for q in queued {
                if !loads.iter().any(|a| a.can_take(None)) {
                    break;
                }
                let Some(agent) = pick(&loads, q.skill_group.as_ref()) else { continue };
                let mut c = Self::take_conversation(&mut tx, shop, q.id).await?;
                let name = agents.iter().find(|a| a.account_id == agent).map(|a| a.display_name.clone()).unwrap_or_default();
                let Ok(body) = c.apply(&Transition::Assign { agent, agent_name: name }, now) else { continue };
                let event = Self::insert_event(&mut tx, &mut c, Sender::System, None, body, now).await?;
                Self::save_conversation(&mut tx, &c).await?;
                Self::stat(&mut tx, shop, StatKind::Assigned, now, Some(c.id), Some(agent), None, None).await?;
                Self::note_agent(&mut tx, c.id, agent).await?;
                sqlx::query("UPDATE agent_presence SET idle_since = $2 WHERE account_id = $1").bind(agent.0).bind(now).execute(&mut *tx).await?;
                if let Some(l) = loads.iter_mut().find(|l| l.id == agent) {
                    l.load += 1;
                    l.idle_since = now;
                }
                assigned.push(Appended { event, conversation: c, duplicate: false });
            }
            tx.commit().await?;
            Ok(assigned)
        }

        async fn transfer(&self, shop: ShopId, id: ConversationId, by: AccountId, to: AccountId, note: &str, now: DateTime<Utc>) -> Result<Appended> {
            let mut tx = self.writer.begin_with($begin_write).await?;
            sqlx::query($lock_shop).bind(shop.0).execute(&mut *tx).await?;
            let agents = Self::agent_statuses(&mut tx, shop).await?;
            let target = agents.iter().find(|a| a.account_id == to).ok_or(StoreError::NotFound)?;
            can_receive_transfer(&target.routing()).map_err(|why| StoreError::Refused(format!("{} {why}", target.display_name)))?;
            let mut c = Self::take_conversation(&mut tx, shop, id).await?;
            let t = Transition::Transfer { to, to_name: target.display_name.clone(), note: note.to_string() };
            let body = c.apply(&t, now).map_err(StoreError::Refused)?;
            let event = Self::insert_event(&mut tx, &mut c, Sender::Agent(by), None, body, now).await?;
            Self::save_conversation(&mut tx, &c).await?;
            Self::stat(&mut tx, shop, StatKind::Transferred, now, Some(id), Some(by), None, Some(&to.to_string())).await?;
            Self::note_agent(&mut tx, id, to).await?;
            tx.commit().await?;
            Ok(Appended { event, conversation: c, duplicate: false })
        }

        async fn events_after(&self, shop: ShopId, id: ConversationId, after: i64, limit: i64) -> Result<Vec<Event>> {
            sqlx::query_as::<_, EventRow>(
                "SELECT conversation_id, seq, sender, sender_id, client_id, body, at FROM conversation_events
                 WHERE shop_id = $1 AND conversation_id = $2 AND seq > $3 ORDER BY seq LIMIT $4",
            )
            .bind(shop.0).bind(id.0).bind(after).bind(limit).fetch_all(&self.pool).await?
            .into_iter().map(Event::try_from).collect()
        }

        async fn mark_read(&self, shop: ShopId, id: ConversationId, agent_side: bool, seq: i64) -> Result<()> {
            let sql = if agent_side {
                "UPDATE conversations SET agent_read_seq = CASE WHEN $3 > agent_read_seq AND $3 <= last_seq THEN $3 ELSE agent_read_seq END
                 WHERE shop_id = $1 AND id = $2"
            } else {
                "UPDATE conversations SET buyer_read_seq = CASE WHEN $3 > buyer_read_seq AND $3 <= last_seq THEN $3 ELSE buyer_read_seq END
                 WHERE shop_id = $1 AND id = $2"
            };
            let done = sqlx::query(sql).bind(shop.0).bind(id.0).bind(seq).execute(&self.writer).await?;
            if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
        }

        async fn set_presence(&self, shop: ShopId, account: AccountId, presence: Presence, now: DateTime<Utc>) -> Result<()> {
            let mut tx = self.writer.begin_with($begin_write).await?;
            let exists: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM accounts WHERE shop_id = $1 AND id = $2")
                .bind(shop.0).bind(account.0).fetch_optional(&mut *tx).await?;
            if exists.is_none() {
                return Err(StoreError::NotFound);
            }
            let previous: Option<(String, DateTime<Utc>)> = sqlx::query_as("SELECT status, since FROM agent_presence WHERE account_id = $1")
                .bind(account.0).fetch_optional(&mut *tx).await?;
            match &previous {
                Some((status, _)) if status == presence.as_str() => return Ok(()),
                Some((status, since)) => {
                    let span = (now - *since).num_milliseconds().max(0);
                    Self::stat(&mut tx, shop, StatKind::PresenceSpan, now, None, Some(account), Some(span), Some(status)).await?;
                }
                None => {}
            }
            sqlx::query(
                "INSERT INTO agent_presence (account_id, shop_id, status, since, idle_since) VALUES ($1, $2, $3, $4, $4)
                 ON CONFLICT (account_id) DO UPDATE SET status = excluded.status, since = excluded.since",
            )
            .bind(account.0).bind(shop.0).bind(presence.as_str()).bind(now).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(())
        }

        async fn agent_loads(&self, shop: ShopId) -> Result<Vec<AgentStatus>> {
            sqlx::query_as::<_, AgentStatusRow>(agent_status_query!())
                .bind(shop.0).fetch_all(&self.pool).await?
                .into_iter().map(AgentStatus::try_from).collect()
        }

        async fn idle_conversations(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<Conversation>> {
            sqlx::query_as::<_, ConversationRow>(concat!("SELECT ", conversation_columns!(),
                " FROM conversations WHERE state <> 'closed' AND last_activity_at < $1 ORDER BY last_activity_at LIMIT $2"))
                .bind(before).bind(limit).fetch_all(&self.pool).await?
                .into_iter().map(Conversation::try_from).collect()
        }

        async fn stat_events(&self, shop: ShopId, since: DateTime<Utc>) -> Result<Vec<StatEvent>> {
            Ok(sqlx::query_as::<_, StatEventRow>(
                "SELECT kind, at, conversation_id, account_id, value_ms, data FROM stat_events WHERE shop_id = $1 AND at >= $2 ORDER BY at, id",
            )
            .bind(shop.0).bind(since).fetch_all(&self.pool).await?
            .into_iter().map(StatEvent::from).collect())
        }

        async fn stats_inputs(
            &self,
            shop: ShopId,
            from: DateTime<Utc>,
            until: DateTime<Utc>,
            orders_until: DateTime<Utc>,
        ) -> Result<kefu_core::stats::Inputs> {
            use kefu_core::stats::*;
            let counted = sqlx::query_as::<_, StatEventRow>(
                "SELECT kind, at, conversation_id, account_id, value_ms, data FROM stat_events
                 WHERE shop_id = $1 AND at >= $2 AND at < $3 ORDER BY at, id",
            )
            .bind(shop.0).bind(from).bind(until).fetch_all(&self.pool).await?
            .into_iter()
            .map(|r| Counted {
                kind: r.kind,
                at: r.at,
                conversation: r.conversation_id.map(ConversationId),
                account: r.account_id.map(AccountId),
                value_ms: r.value_ms,
                data: r.data,
            })
            .collect();
            let messages = sqlx::query_as::<_, (Uuid, Uuid, DateTime<Utc>)>(
                "SELECT sender_id, conversation_id, at FROM conversation_events
                 WHERE shop_id = $1 AND sender = 'agent' AND at >= $2 AND at < $3
                   AND sender_id IS NOT NULL AND body ->> 'kind' = 'message'",
            )
            .bind(shop.0).bind(from).bind(until).fetch_all(&self.pool).await?
            .into_iter()
            .map(|(a, c, at)| AgentMessage { account: AccountId(a), conversation: ConversationId(c), at })
            .collect();
            let ratings = sqlx::query_as::<_, (Uuid, Option<Uuid>, i64, String, DateTime<Utc>)>(
                "SELECT conversation_id, account_id, CAST(score AS BIGINT), comment, at FROM chat_ratings
                 WHERE shop_id = $1 AND at >= $2 AND at < $3",
            )
            .bind(shop.0).bind(from).bind(until).fetch_all(&self.pool).await?
            .into_iter()
            .map(|(c, a, score, comment, at)| Rating {
                conversation_id: ConversationId(c),
                account_id: a.map(AccountId),
                score: score.clamp(1, 5) as u8,
                comment,
                at,
            })
            .collect();
            let bot = sqlx::query_as::<_, (DateTime<Utc>, String, Uuid, bool)>(
                "SELECT q.asked_at, q.outcome, q.session_id, s.handed_off FROM bot_questions q
                 JOIN bot_sessions s ON s.id = q.session_id AND s.shop_id = q.shop_id
                 WHERE q.shop_id = $1 AND q.asked_at >= $2 AND q.asked_at < $3",
            )
            .bind(shop.0).bind(from).bind(until).fetch_all(&self.pool).await?
            .into_iter()
            .map(|(at, outcome, session, handed_off)| BotQuestion { at, outcome, session, handed_off })
            .collect();
            let consultations = sqlx::query_as::<_, (String, DateTime<Utc>)>(
                "SELECT buyer_nick, created_at FROM conversations WHERE shop_id = $1 AND created_at >= $2 AND created_at < $3",
            )
            .bind(shop.0).bind(from).bind(until).fetch_all(&self.pool).await?
            .into_iter()
            .map(|(buyer, at)| Consultation { buyer, at })
            .collect();
            let orders = sqlx::query_as::<_, (String, DateTime<Utc>, Option<DateTime<Utc>>)>(
                "SELECT c.nick, o.created_at, o.paid_at FROM orders o JOIN customers c ON c.id = o.customer_id
                 WHERE o.shop_id = $1 AND o.created_at >= $2 AND o.created_at < $3",
            )
            .bind(shop.0).bind(from).bind(orders_until).fetch_all(&self.pool).await?
            .into_iter()
            .map(|(buyer, created_at, paid_at)| OrderTimes { buyer, created_at, paid_at })
            .collect();
            Ok(Inputs { counted, messages, ratings, bot, consultations, orders })
        }

        async fn rate_conversation(&self, shop: ShopId, r: &kefu_core::stats::Rating) -> Result<()> {
            let done = sqlx::query(
                "INSERT INTO chat_ratings (conversation_id, shop_id, account_id, score, comment, at)
                 SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM conversations WHERE id = $1 AND shop_id = $2)
                 ON CONFLICT (conversation_id) DO NOTHING",
            )
            .bind(r.conversation_id.0).bind(shop.0).bind(r.account_id.map(|a| a.0)).bind(i64::from(r.score))
            .bind(&r.comment).bind(r.at)
            .execute(&self.writer).await?;
            if done.rows_affected() == 0 {
                return match self.conversation(shop, r.conversation_id).await? {
                    None => Err(StoreError::NotFound),
                    Some(_) => Err(StoreError::Conflict("this chat has been rated already".into())),
                };
            }
            Ok(())
        }

        async fn assigned_conversations(&self, shop: ShopId) -> Result<Vec<Conversation>> {
            sqlx::query_as::<_, ConversationRow>(concat!("SELECT ", conversation_columns!(),
                " FROM conversations WHERE shop_id = $1 AND state = 'assigned' ORDER BY buyer_waiting_since, assigned_at, id"))
                .bind(shop.0).fetch_all(&self.pool).await?
                .into_iter().map(Conversation::try_from).collect()
        }
        }
    };
}
pub(crate) use chat_impl;
