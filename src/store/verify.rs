//! Verifying the stored ledger chain with `ledger::Verifier`.

use super::{Reader, StoreError};
use crate::ledger::{Broken, Verified, Verifier};

impl Reader<'_> {
    /// Verifies the whole stored chain. The outer error is a database
    /// failure; the inner one the first bad entry.
    pub fn verify_ledger(
        &self,
        anchor: Option<[u8; 32]>,
    ) -> Result<Result<Verified, Broken>, StoreError> {
        let mut verifier = Verifier::new(anchor);
        let mut broken = None;
        self.each_ledger_entry(|row| match verifier.check(&row) {
            Ok(()) => true,
            Err(b) => {
                broken = Some(b);
                false
            }
        })?;
        Ok(match broken {
            Some(b) => Err(b),
            None => verifier.finish(),
        })
    }
}
