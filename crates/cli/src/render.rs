pub fn page(_c: &tinledger_core::cert::Certificate) -> String {
    String::new()
}
