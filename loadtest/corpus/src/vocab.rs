//! Word pools for generated documents: vendors with stable profiles,
//! customers, people, catalogue items, sentences.

/// A vendor with a stable profile (country, currency, price level), so
/// amount outliers and reused invoice numbers are meaningful per vendor.
#[derive(Debug, Clone)]
pub struct VendorProfile {
    pub name: &'static str,
    /// IBAN country (also picks phone prefix and locale).
    pub country: &'static str,
    pub currency: &'static str,
    /// Locale hint producers in that country would send.
    pub locale: &'static str,
    pub domain: &'static str,
    /// Typical unit price scale (unit prices drawn around this).
    pub price_level: u32,
    /// Invoice number pattern: `{n}` replaced by a running number.
    pub number_pattern: &'static str,
    pub catalogue: &'static [&'static str],
}

const OFFICE: &[&str] = &[
    "Printer paper A4 500 sheets", "Ballpoint pens blue", "Stapler heavy duty", "Desk organiser", "Toner cartridge black",
    "Whiteboard markers", "Archive boxes", "Sticky notes", "Envelopes C4", "Label printer tape",
];
const IT: &[&str] = &[
    "Laptop docking station", "USB-C cable 2m", "Wireless keyboard", "Monitor arm", "Software licence (annual)",
    "Cloud storage plan", "Network switch 24-port", "Support hours", "SSD 1TB", "Webcam HD",
];
const SERVICES: &[&str] = &[
    "Consulting services", "Project management", "Design workshop", "Code review", "Training session",
    "On-site support", "Travel expenses", "Data migration", "Security audit", "Monthly maintenance",
];
const FOOD: &[&str] = &[
    "Croissant", "Cappuccino", "Sourdough loaf", "Orange juice", "Green tea", "Bagel with cream cheese",
    "Blueberry muffin", "Mineral water", "Espresso", "Club sandwich",
];
const HARDWARE: &[&str] = &[
    "Wood screws 4x40", "Cordless drill", "Paint roller set", "Masking tape", "Wall plugs", "Spirit level",
    "Sandpaper assortment", "Extension cord", "Work gloves", "LED bulb E27",
];

pub const VENDORS: &[VendorProfile] = &[
    VendorProfile { name: "Nordwind Handel GmbH", country: "DE", currency: "EUR", locale: "de-DE", domain: "nordwind-handel.de", price_level: 40, number_pattern: "RE-2026-{n}", catalogue: OFFICE },
    VendorProfile { name: "Brightline Systems Ltd", country: "GB", currency: "GBP", locale: "en-GB", domain: "brightline.co.uk", price_level: 300, number_pattern: "BL{n}", catalogue: IT },
    VendorProfile { name: "Acme Supplies Inc.", country: "US", currency: "USD", locale: "en-US", domain: "acmesupplies.com", price_level: 25, number_pattern: "INV-{n}", catalogue: OFFICE },
    VendorProfile { name: "Smith & Sons Ltd", country: "GB", currency: "GBP", locale: "en-GB", domain: "smithandsons.co.uk", price_level: 15, number_pattern: "SS/{n}", catalogue: HARDWARE },
    VendorProfile { name: "Helvetia Consulting AG", country: "CH", currency: "CHF", locale: "de-CH", domain: "helvetia-consulting.ch", price_level: 900, number_pattern: "HC-{n}", catalogue: SERVICES },
    VendorProfile { name: "Van Dijk Logistiek B.V.", country: "NL", currency: "EUR", locale: "nl-NL", domain: "vandijk-logistiek.nl", price_level: 120, number_pattern: "VD{n}", catalogue: SERVICES },
    VendorProfile { name: "Lumière Services SARL", country: "FR", currency: "EUR", locale: "fr-FR", domain: "lumiere-services.fr", price_level: 200, number_pattern: "F-{n}", catalogue: SERVICES },
    VendorProfile { name: "Pacific Data Corp", country: "US", currency: "USD", locale: "en-US", domain: "pacificdata.com", price_level: 500, number_pattern: "PDC-{n}", catalogue: IT },
    VendorProfile { name: "Baumarkt Krause KG", country: "DE", currency: "EUR", locale: "de-DE", domain: "krause-baumarkt.de", price_level: 12, number_pattern: "K{n}", catalogue: HARDWARE },
    VendorProfile { name: "Corner Bakery Ltd", country: "GB", currency: "GBP", locale: "en-GB", domain: "cornerbakery.co.uk", price_level: 3, number_pattern: "CB{n}", catalogue: FOOD },
    VendorProfile { name: "Bean There Coffee LLC", country: "US", currency: "USD", locale: "en-US", domain: "beanthere.com", price_level: 4, number_pattern: "BT-{n}", catalogue: FOOD },
    VendorProfile { name: "Café Sonnenschein GmbH", country: "DE", currency: "EUR", locale: "de-DE", domain: "cafe-sonnenschein.de", price_level: 3, number_pattern: "CS{n}", catalogue: FOOD },
    VendorProfile { name: "Iberia Tech S.L.", country: "ES", currency: "EUR", locale: "es-ES", domain: "iberiatech.es", price_level: 250, number_pattern: "IT/{n}", catalogue: IT },
    VendorProfile { name: "Oslo Fjord Design AS", country: "NO", currency: "NOK", locale: "nb-NO", domain: "fjorddesign.no", price_level: 1500, number_pattern: "OFD{n}", catalogue: SERVICES },
    VendorProfile { name: "Wiener Bürobedarf GmbH", country: "AT", currency: "EUR", locale: "de-AT", domain: "buerobedarf.at", price_level: 30, number_pattern: "WB-{n}", catalogue: OFFICE },
    VendorProfile { name: "Greenfield Partners LLP", country: "GB", currency: "GBP", locale: "en-GB", domain: "greenfield-partners.co.uk", price_level: 700, number_pattern: "GP{n}", catalogue: SERVICES },
];

pub const CUSTOMERS: &[&str] = &[
    "Meridian Health Ltd", "Blue Harbor Holdings Inc.", "Kessler Maschinenbau GmbH", "Orchid Retail plc",
    "Northstar Analytics LLC", "Rosen & Partner KG", "Atlas Freight B.V.", "Summit Legal LLP", "Quantum Foods AG",
    "Silverline Media Corp",
];

pub const FIRST: &[&str] = &["Anna", "Ben", "Clara", "David", "Elena", "Felix", "Grace", "Hugo", "Ines", "Jonas", "Kate", "Liam", "Maria", "Noah", "Olivia", "Paul"];
pub const LAST: &[&str] = &["Schmidt", "Brown", "Dubois", "Rossi", "Jansen", "Novak", "Garcia", "Miller", "Weber", "Taylor", "Larsen", "Costa"];

pub const EMAIL_SUBJECTS: &[&str] = &[
    "Project kickoff next week", "Re: Updated delivery schedule", "Question about your proposal", "Team offsite planning",
    "Fwd: Access to the shared drive", "Follow-up on our call", "Re: Re: Office move", "Quarterly review agenda",
    "New starter onboarding", "Feedback on the draft",
];

pub const EMAIL_LINES: &[&str] = &[
    "Thanks for the quick reply yesterday.",
    "Could you send me the latest version of the plan before Friday?",
    "I have spoken with the team and we are happy to go ahead.",
    "Please let me know if anything is unclear.",
    "We still need to agree on the scope for phase two.",
    "The workshop room is booked and catering is arranged.",
    "I will be out of the office on Monday, so please copy my colleague.",
    "Attached you will find the notes from our meeting.",
    "Can we move our call to the afternoon?",
    "The new access cards will be ready at reception.",
];

pub const CONTRACT_TITLES: &[&str] = &["SERVICE AGREEMENT", "CONSULTING AGREEMENT", "MAINTENANCE CONTRACT", "SUPPLY AGREEMENT", "SOFTWARE LICENCE AGREEMENT"];

pub const CONTRACT_CLAUSES: &[&str] = &[
    "The Provider shall perform the services described in Schedule 1 with reasonable skill and care.",
    "Either party may terminate this Agreement by giving three months written notice to the other party.",
    "Each party shall keep confidential all information received from the other party.",
    "This Agreement shall be governed by the laws of the jurisdiction of the Provider.",
    "The Client shall provide the Provider with access to its premises as reasonably required.",
    "Neither party shall be liable for any failure caused by circumstances beyond its reasonable control.",
    "Invoices are payable within thirty days of receipt.",
    "No variation of this Agreement shall be effective unless it is in writing and signed by both parties.",
];
