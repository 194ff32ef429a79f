//! Access tokens of a platform started by `generec up`: one random bearer
//! token per role, created on first start in `DATA/tokens/<role>.token`
//! (mode 0600, 32 random bytes in hex). The services are configured with
//! their SHA-256 hashes only; the CLI's client commands read the token of
//! the role they need from the same folder (or take `--token`).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use generec_common::auth::{AuthConfig, Role, TokenConfig, token_hash};

/// Every role `generec up` makes a token for.
pub const ROLES: [Role; 4] = [Role::Admin, Role::Internal, Role::Auditor, Role::Compliance];

/// The folder of a platform's tokens, beside its services' data.
pub fn dir(data_root: &Path) -> PathBuf {
    data_root.join("tokens")
}

/// The file holding a role's token.
pub fn path(data_root: &Path, role: Role) -> PathBuf {
    dir(data_root).join(format!("{}.token", role.as_str()))
}

fn write_private(path: &Path, contents: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

/// Creates the tokens that do not exist yet and returns the `[auth]`
/// configuration of all of them (hashes only).
pub fn ensure(data_root: &Path) -> Result<AuthConfig> {
    let folder = dir(data_root);
    std::fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
    let mut tokens = Vec::new();
    for role in ROLES {
        let file = path(data_root, role);
        if !file.exists() {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("randomness: {e}"))?;
            let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            write_private(&file, &token)?;
        }
        let token = read(&file)?;
        tokens.push(TokenConfig {
            name: format!("generec-up-{}", role.as_str()),
            role,
            sha256: token_hash(&token),
        });
    }
    Ok(AuthConfig { tokens })
}

fn read(file: &Path) -> Result<String> {
    Ok(std::fs::read_to_string(file)
        .with_context(|| format!("reading {}", file.display()))?
        .trim()
        .to_string())
}

/// The token a client command presents: `explicit` (`--token` or
/// `GENEREC_TOKEN`) when given, else the role's token file under
/// `data_root` when it exists, else none (access control off).
pub fn for_role(explicit: Option<&str>, data_root: &Path, role: Role) -> Option<String> {
    if let Some(t) = explicit.filter(|t| !t.is_empty()) {
        return Some(t.to_string());
    }
    read(&path(data_root, role)).ok().filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_made_once_private_and_hashed_in_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let first = ensure(dir.path()).unwrap();
        assert_eq!(first.tokens.len(), 4);
        let again = ensure(dir.path()).unwrap();
        assert_eq!(first, again, "tokens are kept across starts");
        let admin = for_role(None, dir.path(), Role::Admin).unwrap();
        assert_eq!(admin.len(), 64);
        assert_eq!(first.tokens[0].sha256, token_hash(&admin));
        assert_eq!(for_role(Some("x"), dir.path(), Role::Admin).unwrap(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path(dir.path(), Role::Auditor))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(for_role(None, empty.path(), Role::Internal), None);
    }
}
