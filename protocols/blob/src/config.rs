//! Configuration of the Blob front end, built by the gateway from flags and TOML.

use std::time::Duration;

use hubgate_protocol::{ListenerConfig, Secret};

/// The Azurite / storage-emulator development account.
pub const DEV_ACCOUNT: &str = "devstoreaccount1";
/// The published key of [`DEV_ACCOUNT`] (base64), the one every emulator connection string has.
pub const DEV_ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A storage account requests may name and sign for.
#[derive(Debug, Clone)]
pub struct StorageAccount {
    /// Account name, the first path segment.
    pub name: String,
    /// Its keys (decoded from base64); a signature made with any of them is accepted.
    pub keys: Vec<Secret>,
}

impl StorageAccount {
    /// An account with base64-encoded keys, as connection strings carry them.
    ///
    /// # Errors
    /// The name is not 3–24 lower-case letters and digits, there is no key, or a key is not
    /// base64.
    pub fn new(name: &str, keys: &[&str]) -> Result<Self, String> {
        let valid = (3..=24).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !valid {
            return Err(format!(
                "storage account name `{name}` must be 3-24 lower-case letters and digits"
            ));
        }
        if keys.is_empty() {
            return Err(format!("storage account `{name}` needs a key"));
        }
        use base64::Engine as _;
        let keys = keys
            .iter()
            .map(|k| {
                base64::engine::general_purpose::STANDARD
                    .decode(k.trim())
                    .map(Secret::new)
                    .map_err(|_| format!("the key of storage account `{name}` is not base64"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            name: name.to_owned(),
            keys,
        })
    }

    /// [`DEV_ACCOUNT`] with [`DEV_ACCOUNT_KEY`].
    pub fn development() -> Self {
        // The published key is valid base64 and the name valid: this cannot fail.
        Self::new(DEV_ACCOUNT, &[DEV_ACCOUNT_KEY]).unwrap_or_else(|_| Self {
            name: DEV_ACCOUNT.to_owned(),
            keys: Vec::new(),
        })
    }
}

/// Everything [`serve`](crate::serve) and [`router`](crate::router) need.
#[derive(Debug, Clone)]
pub struct BlobConfig {
    /// Accept-loop options (connection cap, TLS handshake timeout, drain).
    pub listener: ListenerConfig,
    /// The accounts served; requests for any other account are refused.
    pub accounts: Vec<StorageAccount>,
    /// Refuse requests without a signature (set when access policies are configured).
    pub require_signature: bool,
    /// How long a client has to send a request's headers, and then its body.
    pub header_timeout: Duration,
    /// Largest Put Blob body stored (checkpoint-store blobs are empty); larger gets `413`.
    pub max_blob_bytes: usize,
}

impl Default for BlobConfig {
    /// Open mode with the development account, 60 s header timeout, 32 KiB blobs.
    fn default() -> Self {
        Self {
            listener: ListenerConfig::new("blob"),
            accounts: vec![StorageAccount::development()],
            require_signature: false,
            header_timeout: Duration::from_secs(60),
            max_blob_bytes: 32 << 10,
        }
    }
}
