//! The gxio error codes (fact sheet §4, "Error codes") and the crate's `Result`.
//!
//! Every fallible operation of the safe API returns [`Result`]; the C ABI
//! returns the same values as negative `int`s ([`Error::code`]).

use std::fmt;

/// A gxio / mPIPE error, with the documented numeric value as discriminant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Error {
    /// `GXIO_ERR_IOTLB_ENTRY`: no IOTLB entry left (more than 16 pages
    /// registered on one stack), or a buffer outside every registered page.
    IotlbEntry = -1111,
    /// `GXIO_ERR_INVAL_MEMORY_SIZE`: a memory size or alignment is invalid.
    InvalMemorySize = -1112,
    /// `GXIO_ERR_TIMEOUT`: an operation did not complete.
    Timeout = -1115,
    /// `GXIO_ERR_NO_DEVICE`: no such device (unknown link name or instance).
    NoDevice = -1116,
    /// `GXIO_ERR_BUSY`: the resource is busy (exclusive link, ring full).
    Busy = -1117,
    /// `GXIO_ERR_PERM`: the operation is not permitted (read-only attribute).
    Perm = -1119,
    /// `GXIO_MPIPE_ERR_INVAL_BUFFER_SIZE`: invalid buffer size enum.
    InvalBufferSize = -1131,
    /// `GXIO_MPIPE_ERR_NO_BUFFER_STACK`: no buffer stack left to allocate.
    NoBufferStack = -1140,
    /// `GXIO_MPIPE_ERR_BAD_BUFFER_STACK`: not an allocated/initialized stack.
    BadBufferStack = -1141,
    /// `GXIO_MPIPE_ERR_NO_NOTIF_RING`: no NotifRing left to allocate.
    NoNotifRing = -1142,
    /// `GXIO_MPIPE_ERR_BAD_NOTIF_RING`: not an allocated/initialized ring.
    BadNotifRing = -1143,
    /// `GXIO_MPIPE_ERR_NO_NOTIF_GROUP`: no NotifGroup left to allocate.
    NoNotifGroup = -1144,
    /// `GXIO_MPIPE_ERR_BAD_NOTIF_GROUP`: not an allocated group.
    BadNotifGroup = -1145,
    /// `GXIO_MPIPE_ERR_NO_BUCKET`: no buckets left to allocate.
    NoBucket = -1146,
    /// `GXIO_MPIPE_ERR_BAD_BUCKET`: a bucket that is not allocated.
    BadBucket = -1147,
    /// `GXIO_MPIPE_ERR_NO_EDMA_RING`: no eDMA ring left to allocate.
    NoEdmaRing = -1148,
    /// `GXIO_MPIPE_ERR_BAD_EDMA_RING`: not an allocated/initialized eDMA ring.
    BadEdmaRing = -1149,
    /// `GXIO_MPIPE_ERR_BAD_CHANNEL`: the channel is not one of an open link.
    BadChannel = -1150,
    /// `GXIO_MPIPE_ERR_BAD_CONFIG`: an invalid argument or configuration.
    BadConfig = -1151,
    /// `GXIO_MPIPE_ERR_IQUEUE_EMPTY`: no descriptor is ready.
    IqueueEmpty = -1152,
    /// `GXIO_MPIPE_ERR_RULES_EMPTY`: a rule option before `rules_begin`.
    RulesEmpty = -1160,
    /// `GXIO_MPIPE_ERR_RULES_FULL`: the rule list has no room left.
    RulesFull = -1161,
    /// `GXIO_MPIPE_ERR_RULES_CORRUPT`: the rule list bytes do not parse.
    RulesCorrupt = -1162,
    /// `GXIO_MPIPE_ERR_RULES_INVALID`: an invalid rule parameter.
    RulesInvalid = -1163,
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Every error, in table order (used by tests and `from_code`).
    pub const ALL: [Error; 24] = [
        Error::IotlbEntry,
        Error::InvalMemorySize,
        Error::Timeout,
        Error::NoDevice,
        Error::Busy,
        Error::Perm,
        Error::InvalBufferSize,
        Error::NoBufferStack,
        Error::BadBufferStack,
        Error::NoNotifRing,
        Error::BadNotifRing,
        Error::NoNotifGroup,
        Error::BadNotifGroup,
        Error::NoBucket,
        Error::BadBucket,
        Error::NoEdmaRing,
        Error::BadEdmaRing,
        Error::BadChannel,
        Error::BadConfig,
        Error::IqueueEmpty,
        Error::RulesEmpty,
        Error::RulesFull,
        Error::RulesCorrupt,
        Error::RulesInvalid,
    ];

    /// The documented negative value, as the C ABI returns it.
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// The error with this value, if it is one of the documented codes.
    pub fn from_code(code: i32) -> Option<Error> {
        Error::ALL.iter().copied().find(|e| e.code() == code)
    }

    /// The C macro name of this error, e.g. `GXIO_MPIPE_ERR_IQUEUE_EMPTY`.
    pub const fn name(self) -> &'static str {
        match self {
            Error::IotlbEntry => "GXIO_ERR_IOTLB_ENTRY",
            Error::InvalMemorySize => "GXIO_ERR_INVAL_MEMORY_SIZE",
            Error::Timeout => "GXIO_ERR_TIMEOUT",
            Error::NoDevice => "GXIO_ERR_NO_DEVICE",
            Error::Busy => "GXIO_ERR_BUSY",
            Error::Perm => "GXIO_ERR_PERM",
            Error::InvalBufferSize => "GXIO_MPIPE_ERR_INVAL_BUFFER_SIZE",
            Error::NoBufferStack => "GXIO_MPIPE_ERR_NO_BUFFER_STACK",
            Error::BadBufferStack => "GXIO_MPIPE_ERR_BAD_BUFFER_STACK",
            Error::NoNotifRing => "GXIO_MPIPE_ERR_NO_NOTIF_RING",
            Error::BadNotifRing => "GXIO_MPIPE_ERR_BAD_NOTIF_RING",
            Error::NoNotifGroup => "GXIO_MPIPE_ERR_NO_NOTIF_GROUP",
            Error::BadNotifGroup => "GXIO_MPIPE_ERR_BAD_NOTIF_GROUP",
            Error::NoBucket => "GXIO_MPIPE_ERR_NO_BUCKET",
            Error::BadBucket => "GXIO_MPIPE_ERR_BAD_BUCKET",
            Error::NoEdmaRing => "GXIO_MPIPE_ERR_NO_EDMA_RING",
            Error::BadEdmaRing => "GXIO_MPIPE_ERR_BAD_EDMA_RING",
            Error::BadChannel => "GXIO_MPIPE_ERR_BAD_CHANNEL",
            Error::BadConfig => "GXIO_MPIPE_ERR_BAD_CONFIG",
            Error::IqueueEmpty => "GXIO_MPIPE_ERR_IQUEUE_EMPTY",
            Error::RulesEmpty => "GXIO_MPIPE_ERR_RULES_EMPTY",
            Error::RulesFull => "GXIO_MPIPE_ERR_RULES_FULL",
            Error::RulesCorrupt => "GXIO_MPIPE_ERR_RULES_CORRUPT",
            Error::RulesInvalid => "GXIO_MPIPE_ERR_RULES_INVALID",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

impl std::error::Error for Error {}

/// An enum value naming no size class is `INVAL_BUFFER_SIZE`.
impl From<mpipe_desc::InvalidBufferSize> for Error {
    fn from(_: mpipe_desc::InvalidBufferSize) -> Error {
        Error::InvalBufferSize
    }
}
