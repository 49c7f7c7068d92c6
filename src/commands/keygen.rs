//! `larder keygen`: make an Ed25519 key and print its public key (and a
//! `[[members]]` snippet).

use crate::crypto::keys::{self, SigningKey};
use std::path::Path;

/// `larder keygen`: writes the private key to `out` (never overwritten).
pub(super) fn run(out: &Path, name: Option<&str>) -> anyhow::Result<()> {
    let key = SigningKey::create(out)?;
    let public = keys::to_hex(&key.public_key());
    println!("private key written to {} (mode 0600)", out.display());
    println!("public key: {public}");
    if let Some(name) = name {
        println!();
        println!("# add to larder.toml:");
        println!("[[members]]");
        println!("name = {name:?}");
        println!("public-key = {public:?}");
        println!("may-approve = true");
    }
    Ok(())
}
