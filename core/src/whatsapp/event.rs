//! Typed webhook events: what a verified webhook body says, one event per
//! message, status, preference change or template update (docs/WHATSAPP.md,
//! section 2).
//!
//! Everything a patient wrote or is (message text, captions, file names,
//! locations, shared contacts, phone numbers, names, usernames and
//! business-scoped user ids) is held in a [`Sensitive`] value, whose `Debug`
//! prints `[REDACTED]` and whose memory is zeroized on drop. Ids that name
//! no person (message ids, media ids, template names, error codes) are plain
//! strings.

use core::fmt;

use zeroize::Zeroizing;

/// A value that is personal or health data. `Debug` never shows it; the
/// memory is zeroized on drop. Read it with [`Sensitive::expose`].
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Sensitive(Zeroizing<String>);

impl Sensitive {
    /// Wrap a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The value itself. Never log it.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    /// Its length in bytes (safe to log).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[REDACTED {} bytes]", self.0.len())
    }
}

/// Who a message is from (or a status is about), as far as the webhook
/// says. At least one of `wa_id` and `user_id` is present in every event the
/// parser returns (an event naming nobody becomes [`EventKind::Unsupported`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contact {
    /// The phone-number-based WhatsApp id (`wa_id`, `from`, `recipient_id`),
    /// when the webhook carries it (it may be withheld since 2026).
    pub wa_id: Option<Sensitive>,
    /// The business-scoped user id (BSUID, `user_id`, `from_user_id`,
    /// `recipient_user_id`), e.g. `US.13491208655302741918`.
    pub user_id: Option<Sensitive>,
    /// The parent business-scoped user id (`parent_user_id`), if any.
    pub parent_user_id: Option<Sensitive>,
    /// `profile.name`: display data only, never an identity.
    pub profile_name: Option<Sensitive>,
    /// `profile.username` (e.g. `@name`): display data only, mutable.
    pub username: Option<Sensitive>,
}

impl Contact {
    /// Whether the contact names anybody (a `wa_id` or a `user_id`).
    pub fn is_identified(&self) -> bool {
        self.wa_id.as_ref().is_some_and(|v| !v.is_empty())
            || self.user_id.as_ref().is_some_and(|v| !v.is_empty())
    }
}

/// An error object Meta attaches to a message, a status or a whole value
/// (`errors[]`): its numeric code and title. `message` and `error_data` are
/// not kept (they can quote content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformError {
    /// Meta's error code, e.g. `131051` (message type unknown), `131049`.
    pub code: i64,
    /// The title, cut to at most 128 printable ASCII characters (other
    /// characters become `?`), e.g. `Message type unknown`.
    pub title: String,
}

/// The kind of a media attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MediaKind {
    /// `image` (JPEG, PNG; 5 MB).
    Image,
    /// `document` (PDF, office files, text; 100 MB).
    Document,
    /// `audio`, including voice notes (16 MB).
    Audio,
    /// `video` (MP4, 3GP; 16 MB).
    Video,
    /// `sticker` (WebP; 500 KB).
    Sticker,
}

impl MediaKind {
    /// The webhook's `type` value.
    pub fn code(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Document => "document",
            Self::Audio => "audio",
            Self::Video => "video",
            Self::Sticker => "sticker",
        }
    }

    /// Parse a webhook `type` value.
    pub fn from_code(code: &str) -> Option<Self> {
        [
            Self::Image,
            Self::Document,
            Self::Audio,
            Self::Video,
            Self::Sticker,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }

    /// WhatsApp's size limit for this kind, in bytes (docs/WHATSAPP.md,
    /// section 5): image 5 MB, video and audio 16 MB, document 100 MB,
    /// sticker 500 KB (decimal megabytes, as Meta states them).
    pub fn max_size(self) -> u64 {
        match self {
            Self::Image => 5_000_000,
            Self::Audio | Self::Video => 16_000_000,
            Self::Document => 100_000_000,
            Self::Sticker => 500_000,
        }
    }
}

/// A media attachment as the webhook announces it: the bytes are fetched by
/// the host with the media id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// Which kind.
    pub kind: MediaKind,
    /// The media id to fetch (`GET /<MEDIA_ID>`); valid 7 days.
    pub id: String,
    /// The announced MIME type, e.g. `image/jpeg` (a label: printable
    /// ASCII, at most 128 bytes; anything else is dropped).
    pub mime_type: Option<String>,
    /// The SHA-256 of the file, decoded from the webhook's base64 (or hex).
    pub sha256: Option<[u8; 32]>,
    /// The caption, if any.
    pub caption: Option<Sensitive>,
    /// A document's file name, if any.
    pub filename: Option<Sensitive>,
    /// An audio message recorded as a voice note.
    pub voice: bool,
    /// An animated sticker.
    pub animated: bool,
}

/// The content of an inbound message, by `type`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageBody {
    /// `text`: the body.
    Text(Sensitive),
    /// `image`, `document`, `audio`, `video`, `sticker`.
    Media(Media),
    /// `location`: the location object as JSON text (coordinates, name,
    /// address).
    Location(Sensitive),
    /// `contacts`: the shared contact cards as JSON text.
    Contacts(Sensitive),
    /// `interactive` `button_reply`: the button's id (a payload the business
    /// chose, e.g. a Caduceus consent payload) and its title.
    ButtonReply {
        /// The button id (payload).
        id: String,
        /// The button title the patient saw.
        title: Sensitive,
    },
    /// `interactive` `list_reply`: the row id, title and description.
    ListReply {
        /// The row id (payload).
        id: String,
        /// The row title.
        title: Sensitive,
        /// The row description, if any.
        description: Option<Sensitive>,
    },
    /// `button`: a template's quick-reply button (payload and text).
    QuickReply {
        /// The payload the template defined.
        payload: String,
        /// The button text.
        text: Sensitive,
    },
    /// `reaction`: an emoji on an earlier message; `None` removes it.
    Reaction {
        /// The message reacted to.
        message_id: String,
        /// The emoji, or `None` for an un-reaction.
        emoji: Option<Sensitive>,
    },
    /// `revoke`: the patient deleted an earlier message.
    Revoke {
        /// The id of the deleted message.
        original_message_id: String,
    },
    /// `edit`: the patient edited an earlier message; the new version.
    Edit {
        /// The id of the edited message.
        original_message_id: String,
        /// The new version (never another `Edit`).
        message: Box<MessageBody>,
    },
    /// `system`: the patient's identity changed.
    System(SystemChange),
    /// `unsupported`, the older `unknown`, a known type without its object,
    /// or any type this version does not know (`order`, `poll`, ...): kept
    /// as the type name and the errors, never as content.
    Unsupported {
        /// The `type` (or `unsupported.type`) value, cut to a label.
        message_type: String,
        /// The message's errors, if any.
        errors: Vec<PlatformError>,
    },
}

impl MessageBody {
    /// The webhook `type` this body came from (`text`, `image`, ...,
    /// `unsupported`).
    pub fn type_code(&self) -> &str {
        match self {
            Self::Text(_) => "text",
            Self::Media(m) => m.kind.code(),
            Self::Location(_) => "location",
            Self::Contacts(_) => "contacts",
            Self::ButtonReply { .. } | Self::ListReply { .. } => "interactive",
            Self::QuickReply { .. } => "button",
            Self::Reaction { .. } => "reaction",
            Self::Revoke { .. } => "revoke",
            Self::Edit { .. } => "edit",
            Self::System(_) => "system",
            Self::Unsupported { message_type, .. } => message_type,
        }
    }
}

/// A `system` message: an identity change of the patient.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SystemChange {
    /// `user_changed_number`: the patient's new phone-based id.
    ChangedNumber {
        /// `system.new_wa_id` (or `system.wa_id`).
        new_wa_id: Sensitive,
    },
    /// `user_changed_user_id`: the patient's new business-scoped user id.
    ChangedUserId {
        /// `system.user_id` (the new BSUID).
        new_user_id: Sensitive,
    },
    /// Any other system type (e.g. `customer_identity_changed`), by name.
    Other(String),
}

/// `context` of an inbound message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageContext {
    /// The message replied to (`context.id`), if it is a reply.
    pub replied_to: Option<String>,
    /// `context.forwarded` (forwarded up to 5 times).
    pub forwarded: bool,
    /// `context.frequently_forwarded` (forwarded more than 5 times).
    pub frequently_forwarded: bool,
}

/// An inbound message (`value.messages[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    /// The message id (`wamid....`).
    pub id: String,
    /// The sender, from `from` / `from_user_id` and the matching
    /// `contacts[]` entry.
    pub from: Contact,
    /// `timestamp`, Unix seconds.
    pub timestamp: i64,
    /// `context`, if any.
    pub context: MessageContext,
    /// The content.
    pub body: MessageBody,
    /// The message's own `errors[]`.
    pub errors: Vec<PlatformError>,
}

/// The delivery status of an outbound message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeliveryStatus {
    /// `sent`.
    Sent,
    /// `delivered`.
    Delivered,
    /// `read`.
    Read,
    /// `played` (first play of a voice message).
    Played,
    /// `failed` (see the status's errors).
    Failed,
    /// Any other value, cut to a label.
    Other(String),
}

impl DeliveryStatus {
    /// The webhook value.
    pub fn code(&self) -> &str {
        match self {
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Played => "played",
            Self::Failed => "failed",
            Self::Other(s) => s,
        }
    }
}

/// A status update of an outbound message (`value.statuses[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    /// The outbound message's id.
    pub message_id: String,
    /// The status.
    pub status: DeliveryStatus,
    /// `timestamp`, Unix seconds.
    pub timestamp: i64,
    /// The recipient (`recipient_id`, `recipient_user_id`, and the
    /// `contacts[]` entry on sent/delivered/read).
    pub recipient: Contact,
    /// `pricing.category`, if any (e.g. `marketing`, `utility`, `service`).
    pub pricing_category: Option<String>,
    /// The status's errors (on `failed`).
    pub errors: Vec<PlatformError>,
}

/// A marketing preference change (`field` = `user_preferences`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPreference {
    /// Who changed it.
    pub contact: Contact,
    /// `category`, e.g. `marketing_messages`.
    pub category: String,
    /// `value`.
    pub value: PreferenceValue,
    /// `timestamp` (an integer in these webhooks), Unix seconds.
    pub timestamp: i64,
}

/// The `value` of a user preference.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PreferenceValue {
    /// `stop`: the user stopped marketing messages.
    Stop,
    /// `resume`: the user resumed them (not a consent).
    Resume,
    /// Anything else (e.g. `signup`), cut to a label.
    Other(String),
}

/// A template's review status changed (`message_template_status_update`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateStatus {
    /// `message_template_id` (a JSON number or string), as decimal text.
    pub template_id: String,
    /// `message_template_name`.
    pub name: String,
    /// `message_template_language`, e.g. `de`, `en_US`.
    pub language: String,
    /// `event`, e.g. `APPROVED`, `REJECTED`, `PAUSED`.
    pub event: String,
    /// `reason`, if any, e.g. `NONE`, `INCORRECT_CATEGORY`.
    pub reason: Option<String>,
    /// `message_template_category`, if given, e.g. `UTILITY`.
    pub category: Option<String>,
}

/// A template's category changed or will change (`template_category_update`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateCategoryUpdate {
    /// `message_template_id`, as decimal text.
    pub template_id: String,
    /// `message_template_name`.
    pub name: String,
    /// `message_template_language`.
    pub language: String,
    /// `previous_category` (present once the change is made).
    pub previous_category: Option<String>,
    /// `new_category`: the category now in force.
    pub new_category: String,
    /// `correct_category`: the category it will get within 24 hours (an
    /// announced change), if any.
    pub correct_category: Option<String>,
    /// `category_update_timestamp`, if any.
    pub update_timestamp: Option<i64>,
}

/// What one update in the body is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// An inbound message.
    Message(InboundMessage),
    /// A status of an outbound message.
    Status(StatusUpdate),
    /// A marketing preference change.
    UserPreference(UserPreference),
    /// A template review status change.
    TemplateStatus(TemplateStatus),
    /// A template category change.
    TemplateCategory(TemplateCategoryUpdate),
    /// Value-level `errors[]` (no message or status).
    Errors(Vec<PlatformError>),
    /// A change this version does not handle (unknown `field`, a message or
    /// status that names nobody, a value of the wrong shape), never an
    /// error for the whole body.
    Unsupported {
        /// The change's `field`, cut to a label.
        field: String,
        /// Why it is not handled, a short fixed phrase.
        reason: &'static str,
    },
}

/// One update from a webhook body, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `entry[].id`: the WhatsApp Business Account id.
    pub account_id: String,
    /// `value.metadata.phone_number_id`: the practice's business number
    /// id, if given.
    pub phone_number_id: Option<String>,
    /// The update.
    pub kind: EventKind,
}

/// A parsed webhook body: its events in body order (entries, then changes,
/// then the messages, statuses or preferences of each change).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Webhook {
    /// The events.
    pub events: Vec<Event>,
}
