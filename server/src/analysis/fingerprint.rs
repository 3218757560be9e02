//! Stable fingerprints of findings, for baselines and code scanning (`partialFingerprints`).
//!
//! A fingerprint names a finding by what it is, not where it is: the rule, the file (relative to the
//! project root, `/` separators), the enclosing function's qualified name (`Class.method`,
//! `outer.inner`), the blocking API called and the names of the chain's hops. Line and column are left
//! out, so adding lines above a finding, moving its function or renaming an unrelated function keeps
//! it; changing the callee or the chain makes a new one. Identical findings in one function (two
//! `time.sleep(1)` in a row) are told apart by an occurrence index in source order, so that each is one
//! entry and fixing one leaves the other.
//!
//! Pure: strings in, strings out.

/// The version of the fingerprint scheme, part of SARIF's `partialFingerprints` key.
pub const VERSION: u32 = 1;

/// The key under which SARIF output carries the fingerprint.
pub const SARIF_KEY: &str = "loopsafeFingerprint/v1";

/// What identifies a finding, without its position.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identity<'a> {
    /// The rule's code (`LS102`).
    pub rule: &'a str,
    /// The file, relative to the project root, with `/` separators.
    pub file: &'a str,
    /// The enclosing function's qualified name; empty at module level.
    pub function: &'a str,
    /// The blocking API (`time.sleep`); empty when the rule has none.
    pub callee: &'a str,
    /// The names of the chain's hops, from the coroutine's call to the blocking call.
    pub chain: Vec<&'a str>,
}

impl Identity<'_> {
    /// The identity's hash, as 16 hex digits (without the occurrence index).
    pub fn hash(&self) -> String {
        // Each part is followed by a byte no name contains, so that parts cannot run into each other
        // (`a.b` + `c` differs from `a` + `b.c`).
        let mut key =
            format!("v{VERSION}\u{0}{}\u{0}{}\u{0}{}\u{0}{}", self.rule, self.file, self.function, self.callee);
        for hop in &self.chain {
            key.push('\u{1}');
            key.push_str(hop);
        }
        format!("{:016x}", xxhash_rust::xxh3::xxh3_64(key.as_bytes()))
    }
}

/// The fingerprints of findings given in source order (of each file): `<hash>:<n>`, where `n` counts
/// from 1 the findings with the same identity before it.
pub fn fingerprints(identities: &[Identity<'_>]) -> Vec<String> {
    numbered(identities.iter().map(Identity::hash))
}

/// `fingerprints`, from the identities' hashes (in source order).
pub fn numbered(hashes: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    hashes
        .into_iter()
        .map(|hash| {
            let n = seen.entry(hash.clone()).or_insert(0);
            *n += 1;
            format!("{hash}:{n}")
        })
        .collect()
}

/// A path as fingerprints name it: relative to `root` when under it, `/` separators, no `./`.
pub fn relative_path(path: &str, root: &str) -> String {
    let norm = |s: &str| s.replace('\\', "/");
    let (path, root) = (norm(path), norm(root));
    let root = root.trim_end_matches('/');
    let rel = match path.strip_prefix(root) {
        Some(rest) if !root.is_empty() && rest.starts_with('/') => rest.trim_start_matches('/').to_string(),
        _ => path,
    };
    let mut rel = rel.as_str();
    while let Some(r) = rel.strip_prefix("./") {
        rel = r;
    }
    rel.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id<'a>(function: &'a str, callee: &'a str, chain: &[&'a str]) -> Identity<'a> {
        Identity { rule: "LS102", file: "pkg/app.py", function, callee, chain: chain.to_vec() }
    }

    #[test]
    fn no_position_goes_in_so_moves_and_unrelated_renames_keep_it() {
        // What a finding is made of has no line: adding lines above, moving the function in the file,
        // or renaming another function leaves the same identity and so the same fingerprint.
        let before =
            fingerprints(&[id("Svc.get", "time.sleep", &["time.sleep"]), id("other", "time.sleep", &["time.sleep"])]);
        let after =
            fingerprints(&[id("renamed", "time.sleep", &["time.sleep"]), id("Svc.get", "time.sleep", &["time.sleep"])]);
        assert_eq!(before[0], after[1]);
        assert_ne!(before[1], after[0]);
    }

    #[test]
    fn the_callee_the_chain_the_rule_the_file_and_the_function_change_it() {
        let base = id("Svc.get", "time.sleep", &["helpers.load", "time.sleep"]).hash();
        let others = [
            id("Svc.get", "os.system", &["helpers.load", "os.system"]).hash(),
            id("Svc.get", "time.sleep", &["helpers.fetch", "time.sleep"]).hash(),
            id("Svc.get", "time.sleep", &["time.sleep"]).hash(),
            id("Svc.put", "time.sleep", &["helpers.load", "time.sleep"]).hash(),
            Identity { rule: "LS101", ..id("Svc.get", "time.sleep", &["helpers.load", "time.sleep"]) }.hash(),
            Identity { file: "pkg/other.py", ..id("Svc.get", "time.sleep", &["helpers.load", "time.sleep"]) }.hash(),
        ];
        for o in &others {
            assert_ne!(&base, o);
        }
        assert_eq!(base, id("Svc.get", "time.sleep", &["helpers.load", "time.sleep"]).hash());
    }

    #[test]
    fn parts_cannot_run_into_each_other() {
        assert_ne!(id("a.b", "c", &[]).hash(), id("a", "b.c", &[]).hash());
        assert_ne!(id("f", "x", &["a", "b"]).hash(), id("f", "x", &["ab"]).hash());
    }

    #[test]
    fn identical_findings_in_one_function_are_counted() {
        let sleep = id("Svc.get", "time.sleep", &["time.sleep"]);
        let other = id("top", "time.sleep", &["time.sleep"]);
        let two = fingerprints(&[sleep.clone(), other.clone(), sleep.clone()]);
        let hash = sleep.hash();
        assert_eq!(two, vec![format!("{hash}:1"), format!("{}:1", other.hash()), format!("{hash}:2")]);
        // Deleting one of the two leaves one, which keeps the first's fingerprint.
        let one = fingerprints(&[other, sleep]);
        assert_eq!(one[1], two[0]);
    }

    #[test]
    fn the_hash_is_fixed_for_a_given_identity() {
        // Baselines are committed: the same identity must hash the same on every platform and release
        // (a change of scheme is a new `VERSION`, and a new SARIF key).
        assert_eq!(id("Svc.get", "time.sleep", &["time.sleep"]).hash(), "adacb629b2d0a5b9");
    }

    #[test]
    fn paths_are_relative_to_the_root_with_forward_slashes() {
        assert_eq!(relative_path("/p/root/pkg/app.py", "/p/root"), "pkg/app.py");
        assert_eq!(relative_path("/p/root/pkg/app.py", "/p/root/"), "pkg/app.py");
        assert_eq!(relative_path("C:\\p\\root\\pkg\\app.py", "C:\\p\\root"), "pkg/app.py");
        assert_eq!(relative_path("/p/rootx/app.py", "/p/root"), "/p/rootx/app.py");
        assert_eq!(relative_path("./pkg/app.py", ""), "pkg/app.py");
    }
}
