//! Classifier rules.

use super::*;

/// `gxio_mpipe_rules_init`: an empty list for `ctx`.
///
/// # Safety
/// `rules` must be null or writable.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_rules_init(rules: *mut CRules, ctx: *mut CContext) {
    if rules.is_null() {
        return;
    }
    // SAFETY: `rules` is non-null and writable per the contract; `write`
    // does not read the (possibly uninitialized) old contents.
    unsafe {
        rules.write(CRules {
            context: ctx,
            rules: Rules::new(),
        })
    };
}

/// The rule list of a C rules struct.
///
/// # Safety
/// `rules` must be null or initialized by `gxio_mpipe_rules_init`.
unsafe fn rules_mut<'a>(rules: *mut CRules) -> Option<&'a mut CRules> {
    // SAFETY: forwarded contract; `Rules` is plain bytes, any value is valid.
    unsafe { rules.as_mut() }
}

macro_rules! rules_op {
    ($(#[$doc:meta])* $name:ident, $arg:ident: $ty:ty, $body:expr) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// `rules` must be null or initialized by `gxio_mpipe_rules_init`.
        #[no_mangle]
        pub unsafe extern "C" fn $name(rules: *mut CRules, $arg: $ty) -> c_int {
            // SAFETY: forwarded contract.
            match unsafe { rules_mut(rules) } {
                Some(r) => code($body(&mut r.rules, $arg)),
                None => BAD_CONFIG,
            }
        }
    };
}

rules_op!(/// `gxio_mpipe_rules_set_headroom`.
    gxio_mpipe_rules_set_headroom, headroom: u8, |r: &mut Rules, v| r.set_headroom(v));
rules_op!(/// `gxio_mpipe_rules_set_tailroom`.
    gxio_mpipe_rules_set_tailroom, tailroom: u8, |r: &mut Rules, v| r.set_tailroom(v));
rules_op!(/// `gxio_mpipe_rules_set_capacity`.
    gxio_mpipe_rules_set_capacity, capacity: u16, |r: &mut Rules, v| r.set_capacity(v));
rules_op!(/// `gxio_mpipe_rules_add_channel`.
    gxio_mpipe_rules_add_channel, channel: c_uint, |r: &mut Rules, v| r.add_channel(v));
rules_op!(/// `gxio_mpipe_rules_add_vlan`.
    gxio_mpipe_rules_add_vlan, vlan: u16, |r: &mut Rules, v| r.add_vlan(v));
rules_op!(/// `gxio_mpipe_rules_add_dmac`.
    gxio_mpipe_rules_add_dmac, dmac: CRulesDmac, |r: &mut Rules, v: CRulesDmac| r.add_dmac(v.octets));

/// `gxio_mpipe_rules_begin`: a rule for `num_buckets` (a power of two)
/// buckets from `bucket`, with `stacks` (NULL = automatic choice).
///
/// # Safety
/// `rules` null or initialized; `stacks` null or readable.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_rules_begin(
    rules: *mut CRules,
    bucket: c_uint,
    num_buckets: c_uint,
    stacks: *const CRulesStacks,
) -> c_int {
    // SAFETY: forwarded contract.
    let (Some(r), s) = (unsafe { rules_mut(rules) }, unsafe { stacks.as_ref() }) else {
        return BAD_CONFIG;
    };
    code(r.rules.begin(bucket, num_buckets, s.map(|s| &s.stacks)))
}

/// `gxio_mpipe_rules_commit`: installs the list in its context.
///
/// # Safety
/// `rules` must be null or initialized, naming a live context.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_rules_commit(rules: *mut CRules) -> c_int {
    // SAFETY: forwarded contract.
    let Some(r) = (unsafe { rules_mut(rules) }) else {
        return BAD_CONFIG;
    };
    // SAFETY: forwarded contract on the context the list names.
    unsafe { with(r.context, NO_DEVICE, |c| code(c.commit_rules(&r.rules))) }
}
