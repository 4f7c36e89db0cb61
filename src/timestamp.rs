// placeholder until the timestamp module lands
pub struct Timestamp { pub gen_time: time::OffsetDateTime, pub accuracy: time::Duration, pub signer_chain_der: Vec<Vec<u8>> }
impl Timestamp { pub fn range(&self) -> (time::OffsetDateTime, time::OffsetDateTime) { (self.gen_time - self.accuracy, self.gen_time + self.accuracy) } }
pub fn verify_token(_der: &[u8], _sig: &[u8], _roots: &[Vec<u8>]) -> Result<Timestamp, String> { Err("todo".into()) }
