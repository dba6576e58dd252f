//! Bearer tokens: the `Authorization: Bearer` header and kube-apiserver's static token file (`--token-auth-file`).

use std::{collections::HashMap, path::Path};

use http::{HeaderMap, header};

use super::AuthnError;
use crate::auth::UserInfo;

/// The token of an `Authorization: Bearer <token>` header; `None` without one (or with another scheme).
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let mut parts = value.splitn(3, ' ');
    let scheme = parts.next()?;
    let token = parts.next()?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

/// The users of a static token file, by token.
#[derive(Clone, Default)]
pub struct TokenFile {
    users: HashMap<String, UserInfo>,
}

impl std::fmt::Debug for TokenFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the tokens themselves.
        f.debug_struct("TokenFile").field("tokens", &self.users.len()).finish()
    }
}

impl TokenFile {
    /// Reads `path`: CSV records `token,user,uid[,"group1,group2,..."]` (more columns are ignored). Empty tokens are
    /// skipped; a later duplicate replaces an earlier one.
    ///
    /// # Errors
    /// An unreadable file or a record with fewer than three columns.
    pub fn load(path: &Path) -> Result<Self, AuthnError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthnError::Read {
            flag: "--token-auth-file",
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|reason| AuthnError::TokenFile { path: path.to_path_buf(), reason })
    }

    /// Parses the file's text.
    ///
    /// # Errors
    /// A record with fewer than three columns, or an unterminated quote.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut users = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let record = csv_record(line).map_err(|e| format!("line {}: {e}", index + 1))?;
            if record.len() < 3 {
                return Err(format!(
                    "line {}: at least 3 columns are needed (token, user name, user uid), found {}",
                    index + 1,
                    record.len()
                ));
            }
            if record[0].is_empty() {
                tracing::warn!(line = index + 1, "skipping an empty token in the token file");
                continue;
            }
            let groups = match record.get(3) {
                Some(groups) => groups.split(',').map(str::to_string).collect(),
                None => Vec::new(),
            };
            let user = UserInfo { name: record[1].clone(), uid: record[2].clone(), groups, ..UserInfo::default() };
            if users.insert(record[0].clone(), user).is_some() {
                tracing::warn!(line = index + 1, "a duplicate token in the token file replaces the earlier one");
            }
        }
        Ok(Self { users })
    }

    /// The user of `token`, if the file names it.
    pub fn user(&self, token: &str) -> Option<UserInfo> {
        self.users.get(token).cloned()
    }
}

/// One CSV line: comma-separated fields, leading spaces trimmed, `"quoted, fields"` with `""` for a quote.
fn csv_record(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("a quoted field is not terminated".into()),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(c) => return Err(format!("unexpected {c:?} after a quoted field")),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field.trim_end_matches('\r').to_string());
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_file_reads_users_uids_and_quoted_groups() {
        let file = TokenFile::parse("t1,alice,u-1,\"dev,ops\"\n\n t2, bob,u-2\n,nobody,u-3\n").unwrap();
        let alice = file.user("t1").unwrap();
        assert_eq!((alice.name.as_str(), alice.uid.as_str()), ("alice", "u-1"));
        assert_eq!(alice.groups, vec!["dev", "ops"]);
        assert_eq!(file.user("t2").unwrap().name, "bob");
        assert!(file.user("").is_none());
        assert!(file.user("t3").is_none());
    }

    #[test]
    fn a_record_with_too_few_columns_is_an_error_naming_the_line() {
        let error = TokenFile::parse("t1,alice,u1\nt2,bob\n").unwrap_err();
        assert!(error.contains("line 2") && error.contains("found 2"), "{error}");
        assert!(TokenFile::parse("t1,alice,\"u1\n").is_err());
    }

    #[test]
    fn only_a_non_empty_bearer_credential_is_a_token() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(bearer(&headers).as_deref(), Some("abc"));
        headers.insert(header::AUTHORIZATION, "bearer  ".parse().unwrap());
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, "Basic YTpi".parse().unwrap());
        assert_eq!(bearer(&headers), None);
    }
}
