//! Diesel table definitions, written by hand to match `migrations/` (the same for both backends).

diesel::table! {
    persons (id) {
        id -> Text,
        resident_number -> Text,
        household_number -> Nullable<Text>,
        status -> Text,
        version -> BigInt,
        valid_from -> BigInt,
        valid_to -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    certificates (ca_key_id, serial) {
        ca_key_id -> Binary,
        serial -> Binary,
        person_id -> Text,
        kind -> Text,
        subject_dn -> Text,
        not_before -> BigInt,
        not_after -> BigInt,
        status -> Text,
        status_reason -> Nullable<Text>,
        status_at -> Nullable<BigInt>,
        superseded_by_ca_key_id -> Nullable<Binary>,
        superseded_by_serial -> Nullable<Binary>,
        version -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    providers (id) {
        id -> Text,
        entity_id -> Text,
        name_ja -> Text,
        name_en -> Text,
        status -> Text,
        pilot_mode -> Bool,
        local_key_scheme -> Text,
        metadata_xml -> Nullable<Text>,
        version -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
        status_changed_at -> BigInt,
    }
}

diesel::table! {
    provider_services (svc_md_id) {
        svc_md_id -> Text,
        provider_id -> Text,
        service_type -> Text,
        endpoint -> Text,
        security_mechs -> Text,
        abstract_text -> Nullable<Text>,
        svc_md_xml -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    provider_links (person_id, provider_id) {
        person_id -> Text,
        provider_id -> Text,
        pseudonym -> Text,
        local_key_mac -> Nullable<Binary>,
        local_key_enc -> Nullable<Binary>,
        kek_id -> Nullable<Text>,
        version -> BigInt,
        valid_from -> BigInt,
        valid_to -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    policy_rules (id) {
        id -> Text,
        requester -> Text,
        purpose -> Text,
        service_type -> Text,
        data_class -> Text,
        min_authn_context -> Text,
        allow -> Bool,
        note -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    access_records (seq) {
        seq -> BigInt,
        recorded_at -> BigInt,
        requester -> Text,
        purpose -> Text,
        provider -> Nullable<Text>,
        service_type -> Nullable<Text>,
        data_class -> Nullable<Text>,
        person_id -> Text,
        outcome -> Text,
        detail -> Nullable<Text>,
        prev_hash -> Binary,
        hash -> Binary,
    }
}

diesel::table! {
    access_chain (id) {
        id -> Integer,
        head_seq -> BigInt,
        head_hash -> Nullable<Binary>,
    }
}

diesel::table! {
    import_files (file_sha256, kind, scope) {
        file_sha256 -> Binary,
        kind -> Text,
        scope -> Text,
        file_name -> Text,
        batch_size -> BigInt,
        total_rows -> BigInt,
        status -> Text,
        started_at -> BigInt,
        finished_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    import_batches (file_sha256, kind, scope, batch_no) {
        file_sha256 -> Binary,
        kind -> Text,
        scope -> Text,
        batch_no -> BigInt,
        first_row -> BigInt,
        row_count -> BigInt,
        applied -> BigInt,
        unchanged -> BigInt,
        rejected -> BigInt,
        committed_at -> BigInt,
    }
}

diesel::table! {
    import_rejects (file_sha256, kind, scope, row_no) {
        file_sha256 -> Binary,
        kind -> Text,
        scope -> Text,
        row_no -> BigInt,
        line -> BigInt,
        reason -> Text,
    }
}

diesel::joinable!(certificates -> persons (person_id));
diesel::joinable!(provider_links -> persons (person_id));
diesel::joinable!(provider_links -> providers (provider_id));
diesel::joinable!(provider_services -> providers (provider_id));

diesel::allow_tables_to_appear_in_same_query!(
    persons,
    certificates,
    providers,
    provider_services,
    provider_links,
    policy_rules,
    access_records,
    access_chain,
    import_files,
    import_batches,
    import_rejects,
);
