// @generated automatically by Diesel CLI.

diesel::table! {
    account_tokens (id) {
        id -> Uuid,
        user_id -> Uuid,
        purpose -> Text,
        token_hash -> Bytea,
        email -> Nullable<Text>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> Uuid,
        user_id -> Uuid,
        name -> Text,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Uuid,
        at -> Timestamptz,
        actor_user_id -> Nullable<Uuid>,
        action -> Text,
        subject_type -> Nullable<Text>,
        subject_id -> Nullable<Uuid>,
        details -> Jsonb,
    }
}

diesel::table! {
    booking_policy (id) {
        id -> Bool,
        max_upcoming -> Int4,
        max_upcoming_per_topic -> Int4,
        max_per_month -> Int4,
        late_cancel_hours -> Int4,
        noshow_strikes -> Int4,
        noshow_window_days -> Int4,
        noshow_pause_days -> Int4,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    bookings (id) {
        id -> Uuid,
        learner_id -> Uuid,
        mentor_id -> Uuid,
        topic_id -> Uuid,
        start_at -> Timestamptz,
        end_at -> Timestamptz,
        buffer_before_min -> Int4,
        buffer_after_min -> Int4,
        occupied -> Tstzrange,
        status -> Text,
        goals -> Text,
        cancelled_by -> Nullable<Uuid>,
        cancel_reason -> Nullable<Text>,
        cancelled_at -> Nullable<Timestamptz>,
        late_cancel -> Bool,
        sequence -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        idempotency_key -> Nullable<Uuid>,
        timed_at -> Nullable<Timestamptz>,
        reminded_24h_for -> Nullable<Timestamptz>,
        reminded_1h_for -> Nullable<Timestamptz>,
        outcome_marked_at -> Nullable<Timestamptz>,
        outcome_marked_by -> Nullable<Uuid>,
        cancelled_as -> Nullable<Text>,
    }
}

diesel::table! {
    calendar_feeds (mentor_id) {
        mentor_id -> Uuid,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        nonce -> Nullable<Uuid>,
    }
}

diesel::table! {
    date_overrides (id) {
        id -> Uuid,
        mentor_id -> Uuid,
        on_date -> Date,
    }
}

diesel::table! {
    email_outbox (id) {
        id -> Uuid,
        kind -> Text,
        recipient -> Text,
        recipient_user_id -> Nullable<Uuid>,
        subject -> Text,
        body_text -> Nullable<Text>,
        body_html -> Nullable<Text>,
        attachments -> Jsonb,
        message_id -> Text,
        carries_secret -> Bool,
        state -> Text,
        attempts -> Int4,
        not_before -> Timestamptz,
        next_attempt_at -> Timestamptz,
        lease_token -> Nullable<Uuid>,
        lease_until -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        dedupe_key -> Nullable<Text>,
        created_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
        booking_id -> Nullable<Uuid>,
        expires_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Uuid,
        email_key -> Text,
        ip -> Text,
        at -> Timestamptz,
    }
}

diesel::table! {
    login_known_ips (email_key, ip) {
        email_key -> Text,
        ip -> Text,
        last_at -> Timestamptz,
    }
}

diesel::table! {
    mail_requests (id) {
        id -> Uuid,
        email_key -> Text,
        purpose -> Text,
        ip -> Text,
        at -> Timestamptz,
        sent -> Bool,
    }
}

diesel::table! {
    manage_tokens (id) {
        id -> Uuid,
        booking_id -> Uuid,
        user_id -> Uuid,
        token_hash -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    mentor_profiles (user_id) {
        user_id -> Uuid,
        headline -> Text,
        bio -> Text,
        meeting_url -> Nullable<Text>,
        accepting_bookings -> Bool,
        buffer_before_min -> Int4,
        buffer_after_min -> Int4,
        min_notice_hours -> Int4,
        horizon_days -> Int4,
        step_min -> Int4,
        max_per_day -> Nullable<Int4>,
        max_per_week -> Nullable<Int4>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    mentor_topics (mentor_id, topic_id) {
        mentor_id -> Uuid,
        topic_id -> Uuid,
    }
}

diesel::table! {
    override_windows (id) {
        id -> Uuid,
        override_id -> Uuid,
        start_time -> Time,
        end_time -> Time,
    }
}

diesel::table! {
    server_secrets (name) {
        name -> Text,
        value -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    sessions (id) {
        id -> Uuid,
        user_id -> Uuid,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        expires_at -> Timestamptz,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    slot_versions (mentor_id) {
        mentor_id -> Uuid,
        version -> Int8,
    }
}

diesel::table! {
    time_off (id) {
        id -> Uuid,
        mentor_id -> Uuid,
        starts_at -> Timestamptz,
        ends_at -> Timestamptz,
        note -> Text,
    }
}

diesel::table! {
    topics (id) {
        id -> Uuid,
        slug -> Text,
        title -> Text,
        description -> Text,
        duration_minutes -> Int4,
        active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        email -> Text,
        display_name -> Text,
        role -> Text,
        time_zone -> Text,
        password_hash -> Nullable<Text>,
        email_verified_at -> Nullable<Timestamptz>,
        disabled_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        verification_sent_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    weekly_rules (id) {
        id -> Uuid,
        mentor_id -> Uuid,
        weekday -> Int2,
        start_time -> Time,
        end_time -> Time,
    }
}

diesel::joinable!(account_tokens -> users (user_id));
diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(audit_log -> users (actor_user_id));
diesel::joinable!(bookings -> topics (topic_id));
diesel::joinable!(calendar_feeds -> users (mentor_id));
diesel::joinable!(date_overrides -> users (mentor_id));
diesel::joinable!(email_outbox -> bookings (booking_id));
diesel::joinable!(email_outbox -> users (recipient_user_id));
diesel::joinable!(manage_tokens -> bookings (booking_id));
diesel::joinable!(manage_tokens -> users (user_id));
diesel::joinable!(mentor_profiles -> users (user_id));
diesel::joinable!(mentor_topics -> topics (topic_id));
diesel::joinable!(mentor_topics -> users (mentor_id));
diesel::joinable!(override_windows -> date_overrides (override_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(time_off -> users (mentor_id));
diesel::joinable!(weekly_rules -> users (mentor_id));

diesel::allow_tables_to_appear_in_same_query!(
    account_tokens,
    api_tokens,
    audit_log,
    booking_policy,
    bookings,
    calendar_feeds,
    date_overrides,
    email_outbox,
    login_failures,
    login_known_ips,
    mail_requests,
    manage_tokens,
    mentor_profiles,
    mentor_topics,
    override_windows,
    server_secrets,
    sessions,
    slot_versions,
    time_off,
    topics,
    users,
    weekly_rules,
);
