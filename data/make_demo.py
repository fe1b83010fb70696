"""Generate synthetic NRLS-style incident reports, chest X-ray reports and gold sets for the incident-lens demo.
Usage: python3 data/make_demo.py [--seed 13] [--out-dir data]
"""
import argparse
import csv
import datetime as dt
import random
import re
from pathlib import Path

# ---------------------------------------------------------------------------
# Label vocabularies (must match src/incident_lens/tasks/*.toml)
# ---------------------------------------------------------------------------

CATEGORIES = [
    "Access, admission, transfer, discharge (including missing patient)",
    "Clinical assessment",
    "Consent, communication, confidentiality",
    "Disruptive, aggressive behaviour",
    "Documentation",
    "Implementation of care and ongoing monitoring / review",
    "Infection control",
    "Infrastructure (including staffing, facilities, environment)",
    "Medical device / equipment",
    "Medication",
    "Patient abuse",
    "Patient accident",
    "Self-harming behaviour",
    "Treatment, procedure",
    "Other",
]
ACCESS, ASSESS, CONSENT, DISRUPT, DOCS, CARE, INFECT, INFRA, DEVICE, MEDS, ABUSE, ACCIDENT, SELFHARM, TREAT, OTHER = CATEGORIES

HARMS = ["No harm", "Low", "Moderate", "Severe", "Death"]
HARM_KEYS = ["no", "low", "mod", "sev", "death"]

FINDINGS = [
    "Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
    "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia",
]

INCIDENT_COLUMNS = ["id", "occurred_at", "care_setting", "specialty", "location", "description", "actions", "causes"]
CXR_COLUMNS = ["id", "findings", "impression"] + FINDINGS

START = dt.date(2024, 1, 1)
THEME_START = dt.date(2026, 9, 1)
END = dt.date(2026, 10, 31)

N_INCIDENTS = 3200
N_THEME = 50
N_NEAR_DUPLICATES = 40
N_CXR = 900
N_GOLD = 250
REPORTER_DISAGREEMENT = 0.08
TYPO_RATE = 0.2

# ---------------------------------------------------------------------------
# Care settings, locations and staff
# ---------------------------------------------------------------------------

SETTINGS = {
    "A": "Acute hospital",
    "M": "Mental health",
    "C": "Community nursing",
    "G": "General practice",
    "P": "Ambulance",
    "L": "Learning disabilities",
    "H": "Community hospital",
}

LOCATIONS = {
    "A.ward": [
        ("Ward 7B", ["General medicine", "Respiratory medicine"]),
        ("Ward 12", ["Elderly care"]),
        ("Ward 22", ["Elderly care", "Stroke medicine"]),
        ("Ward 4A", ["General surgery", "Urology"]),
        ("Ward 9", ["Trauma and orthopaedics"]),
        ("Ward 5 (surgical)", ["General surgery", "Vascular surgery"]),
        ("Ward 10 (respiratory)", ["Respiratory medicine"]),
        ("Ward 15 (oncology)", ["Oncology", "Haematology"]),
        ("Ward 3 (renal)", ["Renal medicine"]),
        ("Ward 6 (gastro)", ["Gastroenterology"]),
        ("AMU", ["Acute medicine"]),
        ("SAU", ["General surgery"]),
        ("CCU", ["Cardiology"]),
        ("Stroke unit", ["Stroke medicine"]),
        ("Frailty unit", ["Elderly care"]),
    ],
    "A.ed": [
        ("ED majors", ["Emergency medicine"]),
        ("ED resus", ["Emergency medicine"]),
        ("ED minors", ["Emergency medicine"]),
        ("ED corridor", ["Emergency medicine"]),
    ],
    "A.itu": [("ITU", ["Critical care"]), ("HDU", ["Critical care"])],
    "A.theatre": [
        ("Theatre 3", ["General surgery", "Anaesthetics"]),
        ("Theatre 1", ["Trauma and orthopaedics", "Anaesthetics"]),
        ("Theatre 7", ["Urology", "Gynaecology"]),
        ("Recovery", ["Anaesthetics"]),
        ("Day surgery unit", ["General surgery", "Ophthalmology"]),
        ("Endoscopy unit", ["Gastroenterology"]),
        ("Cath lab", ["Cardiology"]),
    ],
    "A.maternity": [
        ("Labour ward", ["Obstetrics"]),
        ("Postnatal ward", ["Obstetrics", "Midwifery"]),
        ("Maternity triage", ["Obstetrics"]),
    ],
    "A.paeds": [("Children's ward", ["Paediatrics"]), ("Paediatric ED", ["Paediatrics", "Emergency medicine"])],
    "A.imaging": [("Radiology", ["Radiology"]), ("CT scanner", ["Radiology"]), ("MRI", ["Radiology"])],
    "A.discharge": [
        ("Discharge lounge", ["General medicine", "Elderly care"]),
        ("Ward 7B", ["General medicine"]),
        ("Ward 12", ["Elderly care"]),
        ("AMU", ["Acute medicine"]),
    ],
    "M.ward": [
        ("Acute admissions ward", ["Adult mental health"]),
        ("PICU", ["Adult mental health"]),
        ("Willow ward (female acute)", ["Adult mental health"]),
        ("Cedar ward (male acute)", ["Adult mental health"]),
        ("Dementia assessment unit", ["Older adult mental health"]),
        ("Adolescent unit", ["CAMHS"]),
        ("Low secure unit", ["Forensic psychiatry"]),
    ],
    "M.community": [
        ("Patient's home", ["Community mental health team", "Crisis resolution and home treatment"]),
        ("CMHT clinic", ["Community mental health team"]),
        ("Section 136 suite", ["Adult mental health"]),
    ],
    "C.home": [
        ("Patient's home", ["District nursing", "Community matron", "Palliative care", "Tissue viability"]),
        ("Patient's home", ["District nursing"]),
        ("Care home", ["District nursing", "Community matron"]),
        ("Nursing home", ["District nursing"]),
        ("Community clinic", ["District nursing", "Tissue viability"]),
    ],
    "G.practice": [
        ("GP surgery", ["General practice"]),
        ("Treatment room", ["General practice"]),
        ("Reception", ["General practice"]),
        ("Telephone consultation", ["General practice"]),
        ("Patient's home", ["General practice"]),
    ],
    "P.road": [
        ("Ambulance vehicle", ["Emergency ambulance"]),
        ("Patient's home", ["Emergency ambulance"]),
        ("Public place", ["Emergency ambulance"]),
        ("Hospital handover bay", ["Emergency ambulance"]),
        ("Care home", ["Emergency ambulance"]),
        ("Patient transport vehicle", ["Patient transport service"]),
        ("Clinical hub (remote)", ["NHS 111 / clinical assessment service"]),
    ],
    "L.home": [
        ("Supported living accommodation", ["Learning disability services"]),
        ("Residential unit", ["Learning disability services"]),
        ("Day centre", ["Learning disability services"]),
        ("Respite unit", ["Learning disability services"]),
        ("Assessment and treatment unit", ["Learning disability services"]),
    ],
    "H.ward": [
        ("Rehab ward (community hospital)", ["Rehabilitation", "Intermediate care"]),
        ("Ward 2 (community hospital)", ["Intermediate care", "Elderly care"]),
        ("Palliative care unit", ["Palliative care"]),
    ],
}

# Repetition = weight: most acute-hospital incidents are reported from inpatient wards.
DEFAULT_GROUPS = {
    "A": ["A.ward"] * 7 + ["A.ed"] * 2 + ["A.itu"],
    "M": ["M.ward"] * 3 + ["M.community"],
    "C": ["C.home"],
    "G": ["G.practice"],
    "P": ["P.road"],
    "L": ["L.home"],
    "H": ["H.ward"],
}

STAFF = {
    "A": {
        "nurse": ["SN", "RN", "staff nurse", "nurse in charge", "agency nurse", "bank RN", "ward sister", "SN"],
        "hca": ["HCA", "HCA", "bank HCA", "nursing associate", "HCA"],
        "doctor": ["FY1", "FY2", "SHO", "med reg", "on-call Dr", "registrar", "consultant", "ANP", "Dr", "FY1"],
    },
    "M": {
        "nurse": ["RMN", "staff nurse", "nurse in charge", "bank RMN", "agency RMN", "ward manager"],
        "hca": ["HCA", "support worker", "bank HCA", "HCA"],
        "doctor": ["duty doctor", "SHO", "consultant psychiatrist", "on-call Dr", "CT1", "Dr"],
    },
    "C": {
        "nurse": ["DN", "district nurse", "community staff nurse", "DN", "community matron"],
        "hca": ["carer", "HCA", "care worker", "carer"],
        "doctor": ["GP", "OOH GP", "community matron", "GP"],
    },
    "G": {
        "nurse": ["practice nurse", "nurse practitioner", "practice nurse"],
        "hca": ["receptionist", "HCA", "practice manager"],
        "doctor": ["GP", "locum GP", "GP registrar", "ANP", "Dr"],
    },
    "P": {
        "nurse": ["paramedic", "crew", "EMT", "attending paramedic", "crew"],
        "hca": ["ECA", "crew mate", "PTS driver"],
        "doctor": ["clinical hub", "CSD clinician", "OOH GP", "on-call GP"],
    },
    "L": {
        "nurse": ["LD nurse", "support worker", "staff nurse", "senior support worker"],
        "hca": ["support worker", "carer", "support worker"],
        "doctor": ["GP", "psychiatrist", "on-call Dr"],
    },
    "H": {
        "nurse": ["SN", "RN", "staff nurse", "nurse in charge", "bank RN"],
        "hca": ["HCA", "rehab assistant", "bank HCA"],
        "doctor": ["GP", "ANP", "on-call Dr", "FY2"],
    },
}

WHERE = {
    "A.ward": ["bay 1", "bay 2", "bay 3", "bay 4", "side room 2", "side room 5", "the bathroom", "the toilet",
               "bed 6", "bed 14", "the day room", "the ward corridor"],
    "A.ed": ["cubicle 4", "majors bay 12", "the corridor", "resus bay 2", "the waiting area", "cubicle 9"],
    "A.itu": ["bed 3", "bed 8", "side room 1", "bed space 5"],
    "A.theatre": ["theatre", "the anaesthetic room", "recovery bay 2", "the theatre corridor"],
    "A.maternity": ["delivery room 4", "the postnatal bay", "triage room 2", "the birth pool room"],
    "A.paeds": ["bay A", "cubicle 3", "the play room", "side room 4"],
    "A.imaging": ["the CT scanner", "the x-ray room", "the radiology waiting area"],
    "A.discharge": ["the discharge lounge", "bay 2", "side room 3"],
    "M.ward": ["the bedroom", "the lounge", "the garden", "the bathroom", "the communal area", "the corridor",
               "the dining room", "the quiet room"],
    "M.community": ["the pt's home", "the clinic room", "the 136 suite"],
    "C.home": ["the bedroom", "the lounge", "the kitchen", "the bathroom", "the hallway", "the stairs"],
    "G.practice": ["the waiting room", "the treatment room", "the consulting room", "the car park"],
    "P.road": ["the rear of the ambulance", "the stretcher", "the pt's home", "the roadside", "the handover bay"],
    "L.home": ["the lounge", "the bedroom", "the bathroom", "the dining room", "the garden", "the minibus"],
    "H.ward": ["bay 1", "bay 3", "side room 2", "the bathroom", "the day room", "the gym"],
}

PAEDS = {"Paediatrics"}
ELDERLY = {"Elderly care", "Older adult mental health", "Stroke medicine", "Rehabilitation", "Intermediate care"}
MATERNITY = {"Obstetrics", "Midwifery"}

# ---------------------------------------------------------------------------
# Shared grammar (slot -> fillers). "{x}" expands a slot, "{x_cap}" capitalises
# it, and "{x@}" picks the filler list for the report's harm level (x_no, x_low ...).
# ---------------------------------------------------------------------------

CLOCKS = [f"{h:02d}:{m:02d}" for h in range(24) for m in range(0, 60, 5)]

G = {
    "clock": CLOCKS,
    "clock2": CLOCKS,
    "clock_night": [c for c in CLOCKS if c >= "22:00" or c < "06:00"],
    "clock_hrs": [c.replace(":", "") + "hrs" for c in CLOCKS[::3]],
    "time": ["at {clock}", "at approx {clock}", "around {clock}", "at {clock_hrs}", "during the night shift",
             "on the late shift", "at the start of the early shift", "overnight", "during handover", "at {clock}",
             "at {clock}", "this morning", "on nights"],
    "n_hours": ["2", "3", "4", "6", "8", "12", "24"],
    "n_days": ["2", "3", "4", "5", "6", "7", "10", "14"],
    "n_small": ["1", "2", "3", "5", "10"],
    "n_pts": ["24", "28", "30", "32", "18", "20"],
    "delay_period": ["2 hours", "6 hours", "12 hours", "24 hours", "2 days", "3 days", "a week", "10 days",
                     "3 weeks", "6 weeks"],
    "nok": ["NOK", "daughter", "son", "wife", "husband", "partner", "family", "niece", "mother", "carer"],
    "death_when": ["later that day", "the following day", "{n_days} days later", "overnight",
                   "despite treatment in ITU", "the next morning", "on the ward {n_days} days later"],
    "body": ["forehead", "L eyebrow", "R eyebrow", "back of head", "R hip", "L hip", "L knee", "R knee",
             "L elbow", "R elbow", "L forearm", "R forearm", "nose", "R shoulder", "L shoulder", "lower back",
             "L shin", "R shin", "chin", "R hand", "L hand"],
    "limb": ["L forearm", "R forearm", "left shin", "right shin", "L hand", "back of R hand", "L elbow",
             "R lower leg", "left arm"],
    "body_head": ["forehead", "scalp", "eyebrow", "occipital area", "bridge of nose", "chin"],
    "pmh": ["dementia", "Parkinson's disease", "COPD", "T2DM", "AF on apixaban", "CKD stage 3",
            "a previous stroke", "osteoporosis", "alcohol dependence", "epilepsy", "heart failure", "delirium",
            "a learning disability", "schizophrenia", "T1DM", "bipolar disorder", "frailty (CFS 7)"],
    "sedative": ["zopiclone", "lorazepam", "Oramorph", "haloperidol", "promethazine", "diazepam", "quetiapine",
                 "codeine"],
    "minor_symptom": ["nausea", "dizziness", "discomfort", "a headache", "drowsiness", "anxiety"],
    "minor_treatment": ["simple analgesia", "an antiemetic", "oral fluids", "a single dose of PRN medication",
                        "IV fluids for a few hours", "a dressing"],
    "mild_effect": ["drowsy", "nauseated", "mildly hypotensive", "hypoglycaemic (BM {bm_low})", "dizzy",
                    "flushed and itchy"],
    "mod_treatment": ["IV antibiotics", "a blood transfusion", "a return to theatre", "IV fluids and an extended admission",
                      "a chest drain", "a course of IV treatment"],
    "perm_harm": ["loss of independent mobility", "brain injury", "renal impairment requiring dialysis",
                  "loss of vision in one eye", "hearing loss", "left-sided weakness", "cognitive impairment"],
    "bm_low": ["2.1", "2.4", "2.8", "3.1", "3.3", "1.9"],
    "bm_high": ["19.4", "22.0", "24.6", "27.1", "31.2", "18.8"],
    "news": ["5", "6", "7", "8", "9"],
    "rr": ["24", "26", "28", "30", "32"],
    "sats": ["86", "88", "89", "90", "91"],
    "o2": ["room air", "2L NC", "4L NC", "35% venturi", "15L NRB"],
    "walking_aid": ["zimmer frame", "walking stick", "rollator", "quad stick", "frame"],
    "day_name": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "gestation": ["32", "36+4", "38", "39+2", "40+5", "41+3"],
    "transfer_dest": ["CT", "theatre", "the ward", "ITU", "x-ray", "MRI", "the cath lab"],
}

# Openings give longer reports some clinical background, keyed by setting.
OPENINGS = {
    "A": ["{pt_desc} admitted with {admit_reason}.", "{pt_desc}, day {n_days} of admission with {admit_reason}.",
          "{pt_desc} with {pmh}, admitted {n_days} days ago with {admit_reason}.",
          "{pt_desc}, PMH {pmh}, under {specialty}."],
    "A.ed": ["{pt_desc} brought in by ambulance with {amb_complaint}.", "{pt_desc} self-presented with {gp_complaint}.",
             "{pt_desc} in ED awaiting a bed, {n_hours} hours in department.", "{pt_desc} with {pmh}, attended with {amb_complaint}."],
    "A.itu": ["{pt_desc} on ITU, day {n_days}, with {admit_reason}.", "{pt_desc} admitted to critical care with {admit_reason}."],
    "A.theatre": ["{pt_desc} listed for {procedure}.", "{pt_desc} on the {day_name} list for {procedure}.",
                  "{pt_desc} with {pmh}, elective {procedure}."],
    "A.maternity": ["{pt_desc}, {gestation} weeks, in established labour.", "{pt_desc}, {gestation} weeks, attended triage with reduced fetal movements.",
                    "{pt_desc}, day 1 postnatal."],
    "A.paeds": ["{pt_desc} admitted with {paeds_symptom}.", "{pt_desc} brought in by parents with {paeds_symptom}."],
    "A.imaging": ["{pt_desc} attended for a scan.", "{pt_desc} sent from the ward for imaging."],
    "M.community": ["{pt_desc} known to CMHT with {mh_dx}.", "{pt_desc} under the home treatment team with {mh_dx}."],
    "M": ["{pt_desc} detained under {mh_section}.", "{pt_desc}, informal admission, known {mh_dx}.",
          "{pt_desc} with {mh_dx}, on level {mh_level} obs.", "{pt_desc} known to the team with {mh_dx}."],
    "C": ["{pt_desc} on DN caseload for {dn_reason}.", "{pt_desc}, housebound, known to team for {dn_reason}.",
          "{pt_desc} with {pmh}, visited {dn_freq} for {dn_reason}."],
    "G": ["{pt_desc} registered with the practice, PMH {pmh}.", "{pt_desc} seen in surgery with {gp_complaint}.",
          "{pt_desc} with {pmh}."],
    "P": ["Crew called to {pt_desc} with {amb_complaint}.", "{amb_call_cat} call to {pt_desc} c/o {amb_complaint}.",
          "Attended {pt_desc}, {amb_complaint}."],
    "L": ["{pt_desc} with {ld_dx}, lives in supported accommodation.", "Service user ({pt_desc}) with {ld_dx}.",
          "{pt_desc} with {ld_dx} and {pmh}."],
    "H": ["{pt_desc} transferred from acute trust for rehab following {admit_reason}.",
          "{pt_desc} admitted for step-down care after {admit_reason}.", "{pt_desc} with {pmh}, on rehab pathway."],
}

G.update({
    "admit_reason": ["community-acquired pneumonia", "a fall at home", "urosepsis", "an exacerbation of COPD",
                     "#NOF", "decompensated heart failure", "AKI", "cellulitis", "chest pain", "a stroke",
                     "DKA", "a GI bleed", "confusion ?delirium", "an infected leg ulcer", "bowel obstruction",
                     "a small bowel resection", "post-op knee replacement", "sepsis ?source", "new AF",
                     "pancreatitis", "a PE"],
    "mh_section": ["section 2", "section 3", "s2 MHA", "s3 MHA", "section 37/41", "s136"],
    "mh_dx": ["paranoid schizophrenia", "bipolar affective disorder", "EUPD", "severe depression",
              "psychotic depression", "first-episode psychosis", "anorexia nervosa", "dementia with BPSD"],
    "mh_level": ["1", "2", "3", "4"],
    "dn_reason": ["leg ulcer dressings", "insulin administration", "catheter care", "pressure area care",
                  "end of life care", "wound care post surgery", "PICC line flushes", "enoxaparin injections"],
    "dn_freq": ["daily", "twice daily", "three times a week", "weekly"],
    "gp_complaint": ["chest pain", "abdominal pain", "a persistent cough", "low mood", "headaches",
                     "a medication review", "back pain", "a rash", "weight loss"],
    "amb_complaint": ["chest pain", "shortness of breath", "a fall", "collapse", "abdominal pain",
                      "reduced consciousness", "a seizure", "back pain", "confusion", "a head injury"],
    "amb_call_cat": ["Cat 1", "Cat 2", "Cat 3", "Category 2"],
    "ld_dx": ["severe learning disability", "Down's syndrome", "autism and learning disability",
              "cerebral palsy and epilepsy", "moderate learning disability"],
})

GENERIC_DETAILS = [
    "{nok_cap} informed.", "Pt has {pmh}.", "Pt has a history of {pmh}.",
    "Ward was very busy at the time with {busy_reason}.", "{doctor_cap} reviewed pt at {clock2}.",
    "Pt has capacity and was informed of the incident.", "Pt lacks capacity; {nok} made aware.",
    "This is the {nth} similar incident this month.", "Discussed with nurse in charge.",
    "Pt was {mobility_status} at the time.", "Pt {pt_state} at the time.", "Obs at the time: {obs_set}.",
]

G.update({
    "busy_reason": ["two admissions and a deteriorating pt", "3 pts on 1:1", "a cardiac arrest in bay 2",
                    "staff sickness", "a Hospital at Night shortfall", "a high number of confused pts",
                    "an outbreak in the next bay"],
    "nth": ["second", "third", "fourth"],
    "mobility_status": ["mobile with a frame", "independently mobile", "hoisted for transfers", "bedbound",
                        "mobile with assistance of 1", "non-weight bearing"],
    "pt_state": ["was confused", "was alert and orientated", "was drowsy", "was agitated", "had been settled",
                 "was asleep", "had been calling out"],
    "obs_set": ["BP {bp}, HR {hr}, sats {sats_ok}% RA, NEWS2 {news_low}", "NEWS2 {news_low}",
                "HR {hr}, BP {bp}, temp {temp}", "sats {sats_ok}%, RR {rr_ok}, GCS 15"],
    "bp": ["128/76", "104/62", "148/90", "96/58", "162/88", "118/70"],
    "bp_low": ["78/40", "82/46", "84/50", "76/38"],
    "hr": ["72", "88", "96", "104", "64", "110"],
    "temp": ["36.8", "37.4", "38.1", "36.4"],
    "sats_ok": ["94", "95", "96", "97", "98"],
    "rr_ok": ["16", "18", "20"],
    "news_low": ["0", "1", "2", "3"],
})

GENERIC_OUT = {
    "no": ["No harm caused.", "No injury sustained.", "No harm to pt.", "Pt came to no harm.",
           "No adverse effects noted.", "No harm occurred.", "Obs stable, no harm.", "pt not harmed.",
           "No harm - pt unaware and well."],
    "low": ["Pt required additional obs for {n_hours} hours but no lasting harm.",
            "Minor harm - reviewed by {doctor}, {minor_treatment} given.",
            "Pt needed extra monitoring overnight; recovered fully.",
            "Short-lived {minor_symptom}, resolved with {minor_treatment}.",
            "Low harm - first aid given and obs increased.",
            "Pt required a repeat set of bloods and extra obs; no further treatment needed."],
    "mod": ["Pt required further treatment and stay extended by {n_days} days.",
            "Required transfer to HDU for closer monitoring, now improving.",
            "pt required ITU admission for {n_days} days, since stepped down to the ward.",
            "Pt needed {mod_treatment}; expected to make a full recovery.",
            "Moderate harm - additional procedure required and admission prolonged by {n_days} days."],
    "sev": ["Pt has been left with permanent {perm_harm}.",
            "Pt has sustained long-term harm ({perm_harm}) as a result.",
            "This has resulted in permanent {perm_harm}; long-term care now needed."],
    "death": ["Pt sadly passed away {death_when}.", "Pt died {death_when}.",
              "Resuscitation attempted but unsuccessful; pt died.",
              "Pt passed away {death_when}, referred to coroner.",
              "Despite treatment pt deteriorated and died {death_when}."],
}

GENERIC_ACTIONS = ["{nok_cap} informed.", "Escalated to nurse in charge.", "Reviewed by {doctor}.",
                   "Incident discussed at safety huddle.", "Pt informed and apology given.",
                   "Ward manager made aware.", "Care plan updated.", "Obs increased to {obs_freq}."]
HARMFUL_ACTIONS = ["Duty of candour conversation held with pt/{nok}.", "Escalated to matron and patient safety team.",
                   "Rapid review (AAR) arranged.", "Duty of candour letter to follow.",
                   "72-hour review requested by patient safety team."]
DEATH_ACTIONS = ["Referred to coroner.", "Considered for PSII under PSIRF.", "Medical examiner informed."]
GENERIC_CAUSES = ["Short staffed - {staff_gap}.", "High acuity on the ward at the time.",
                  "Agency staff unfamiliar with local processes.", "Poor handover between shifts.",
                  "Busy shift, multiple competing priorities.", "Bank staff not orientated to the ward.",
                  "Communication breakdown between teams.", "Night shift, only one RN on the bay.",
                  "Staff member had not completed training on {training_topic}."]
G.update({
    "obs_freq": ["hourly", "2-hourly", "4-hourly", "15-minutely", "half-hourly"],
    "staff_gap": ["2 RNs short on nights", "1 RN and 1 HCA for 14 pts", "no HCA on the early shift",
                  "3 of 6 RNs were agency", "sickness not backfilled", "nurse in charge also holding a bay",
                  "one RN redeployed to ED"],
    "training_topic": ["the new eObs system", "insulin safety", "moving and handling", "syringe drivers",
                       "safeguarding level 3", "sepsis recognition", "the infusion pumps", "restrictive practice"],
})


def T(text, where=None, harms=None):
    """An event template: text, the settings/location groups it fits, and the harm levels it allows."""
    return {"text": text, "where": where, "harms": harms.split() if harms else None}


# ---------------------------------------------------------------------------
# Incident categories. Each spec: weight (share of reports), harm weights
# (no, low, mod, sev, death), setting weights, events, details, outcomes,
# actions and causes. Causes often borrow from other categories on purpose:
# real incidents overlap (a fall because of staffing, a drug error from a pump).
# ---------------------------------------------------------------------------

SPECS = {}

SPECS[ACCIDENT] = {
    "weight": 27, "harm": (69.2, 27.6, 2.6, 0.39, 0.27),
    "settings": {"A": 55, "H": 12, "M": 8, "C": 12, "L": 5, "P": 4, "G": 4},
    "events": [
        T("Pt found on floor {fall_where} {time}. {fall_found}"),
        T("Unwitnessed fall - pt found sitting on the floor next to the bed by {hca}. {fall_found}", "A H M L"),
        T("Witnessed fall: pt {fall_mech} while {fall_activity} and {fall_landing}."),
        T("Pt attempted to {fall_attempt} without calling for assistance and fell {fall_direction}."),
        T("Pt slipped on {wet_surface} in {where} and fell."),
        T("Pt rolled out of bed {time}; bed rails {rails_state}.", "A H M L C"),
        T("Pt slid from {chair_type} onto the floor while {chair_activity}."),
        T("During transfer with {transfer_aid} pt {transfer_fail}. {hca_cap} and {nurse} lowered pt to the floor.",
          "A H C L"),
        T("Pt's legs gave way while mobilising with {walking_aid}; pt lowered to the floor by staff."),
        T("Pt tripped over {trip_hazard} in {where}."),
        T("Pt found on floor in {where} by {hca} during {obs_type} obs {time}. {fall_found}", "A H M"),
        T("Second fall this admission. Pt {fall_mech} in {where} {time}.", "A H M"),
        T("Pt sustained a {scald@}", "A H M C L", "low mod sev"),
        T("Pt trapped {limb} in {trap_thing}. {trap@}", "A H C L M", "no low mod"),
        T("Pt coughing and choking while eating {food_item} in {where}. {choke@}", "A H M L C"),
        T("Pt fell {amb_fall} {amb_fall_when}.", "P"),
        T("{nurse_cap} arrived for planned visit and found pt on the floor in {where}; pt reports falling "
          "{fall_ago}. {fall_found}", "C"),
        T("Service user fell {ld_fall}.", "L"),
        T("Pt fell in the garden while out for a cigarette.", "M"),
        T("Pt collapsed in {where} and hit {body} on the way down; pt states felt dizzy beforehand.", "A H G M"),
        T("Pt fell from the examination couch while getting down.", "G"),
        T("Pt found kneeling on floor beside bed, unable to get up, {time}."),
        T("{hca_cap} heard a bang from {where} and found pt on the floor.", "A H M L"),
        T("pt climbed over bed rails and fell {time}.", "A H"),
        T("Pt fell while walking to the toilet with {walking_aid}; {fall_found}", "A H C L"),
    ],
    "details": [
        "Call bell was out of reach.", "Pt was not wearing footwear.", "Pt was wearing non-slip socks.",
        "Bed was at lowest height with crash mat in place.", "Pt had been assessed as high falls risk on admission.",
        "Pt has a history of falls at home.", "Pt confused and pulling at cannula prior to the fall.",
        "Pt had had {sedative} earlier in the evening.", "Lying and standing BP showed a postural drop of {postural}.",
        "Falls sensor alarm did not sound.", "Pt on anticoagulation ({anticoag}).", "Pt {pt_state} before the fall.",
        "{obs_type_cap} obs had been stopped earlier that day.",
    ],
    "out": {
        "no": ["No injury sustained.", "No head injury noted.", "pt denies pain, no injury noted on top to toe check.",
               "Pt denies hitting head. Obs within normal limits, no injury.", "Checked by {doctor}, no injury found.",
               "No harm caused; pt assisted back to bed using hoist.", "Pt denies pain, moving all limbs, no injury.",
               "No apparent injury. Pt denies pain.", "No injuries noted, pt settled back to bed."],
        "low": ["Small skin tear to {limb}, dressed.", "Bruising to {body}; neuro obs commenced, all within normal limits.",
                "Graze to {body} cleaned and dressed.", "Small laceration to {body}, closed with steristrips.",
                "C/o pain to {body}, x-ray NAD, analgesia given.", "Haematoma to {body}, ice pack applied and obs increased.",
                "Superficial cut to {body}; glued by {doctor}.", "Minor bruise to {body}, neuro obs for 24 hrs - NAD."],
        "mod": ["X-ray showed fractured {bone_mod}; {mod_fix}.",
                "Sustained fractured neck of femur, transferred to theatre for {nof_op}.",
                "Laceration to {body_head} requiring sutures; CT head showed {ct_small}, admitted for extended observation.",
                "CT showed fractured {bone_mod}, managed in {cast}; discharge delayed {n_days} days.",
                "Dislocated shoulder, reduced in ED under sedation."],
        "sev": ["CT head showed subdural haematoma; pt has not regained previous level of function and is now bedbound.",
                "Sustained #NOF; despite surgery pt has permanently lost independent mobility and needs nursing home placement.",
                "Fractured cervical spine with lasting weakness in all four limbs.",
                "Significant head injury with permanent cognitive decline."],
        "death": ["CT head showed large subdural haematoma; palliated following neurosurgical advice and pt passed away {death_when}.",
                  "Sustained #NOF, deteriorated post-op and died {death_when}; fall considered contributory.",
                  "Pt suffered a catastrophic head injury and died {death_when}."],
    },
    "actions": ["Neuro obs commenced.", "Pt assisted from floor using {lift_aid}.", "Reviewed by {doctor}.",
                "Falls risk assessment updated.", "Bed lowered and crash mat placed.", "Call bell placed within reach.",
                "Enhanced obs (bay watch) commenced.", "Sensor alarm requested.", "Lying and standing BP requested.",
                "Medication review requested re {sedative}.", "Physio referral made.", "Post-falls protocol followed.",
                "X-ray requested.", "Non-slip socks provided.", "Hoisted back to bed.", "Pt moved closer to nurses' station."],
    "causes": ["Pt confused/delirious, not using call bell.", "Pt high falls risk, enhanced obs not possible due to staffing.",
               "Only 1 HCA for 12 pts on night shift.", "Wet floor, no signage.", "Pt impulsive, did not wait for assistance.",
               "Postural hypotension.", "Pt on {sedative}.", "Poor footwear.", "Bay not visible from nurses' station.",
               "Bed rails assessment not completed.", "Walking frame left out of reach.", "Sensor mat not switched on.",
               "Pt had a UTI, increased confusion.", "Poor lighting in bathroom.", "Hoist sling incorrect size.",
               "Pt moved bays overnight and was disorientated."],
}
G.update({
    "fall_where": ["beside bed", "in {where}", "next to the commode", "at the end of the bed", "in the doorway of {where}",
                   "between the bed and chair", "in {where}"],
    "fall_found": ["Pt unable to say what happened.", "Pt states they were trying to get to the toilet.",
                   "Pt said they 'just slipped'.", "Pt says they felt dizzy when standing.", "Pt confused, unable to give history.",
                   "Call bell was within reach but not used.", "Pt states did not want to bother the nurses.", ""],
    "fall_mech": ["lost balance", "slipped", "tripped", "became unsteady", "stumbled", "turned too quickly and fell"],
    "fall_activity": ["walking back from the toilet", "standing to wash at the sink", "transferring to the commode",
                      "reaching for the table", "getting out of bed", "mobilising with physio", "turning in the doorway"],
    "fall_landing": ["landed on {body}", "fell onto their bottom", "fell backwards hitting {body} on the wall",
                     "landed on their side", "fell forwards onto {body}"],
    "fall_attempt": ["get out of bed", "walk to the toilet", "stand from the chair", "reach for the commode",
                     "get to the sink", "pick something up from the floor"],
    "fall_direction": ["onto their side", "forwards", "backwards", "onto the floor", "between the bed and locker"],
    "wet_surface": ["a wet floor", "spilt water", "urine on the floor", "a freshly mopped floor", "spilt tea"],
    "rails_state": ["were down", "were up - pt climbed over", "not in use as pt assessed as inappropriate",
                    "were up on one side only"],
    "chair_activity": ["leaning forward to pick something up", "being pushed to the bathroom", "reaching for the call bell",
                       "trying to stand unaided", "asleep"],
    "chair_type": ["the chair", "a recliner chair", "the commode", "a wheelchair", "the shower chair"],
    "transfer_aid": ["the stand aid", "a rotunda", "the hoist", "a slide sheet", "assistance of 2"],
    "transfer_fail": ["became weak and slid down", "let go of the handles", "lost footing", "became unresponsive briefly",
                      "sat down suddenly"],
    "trip_hazard": ["a drip stand", "a footstool", "their own blanket", "a trailing cable", "a shoe", "the bed table"],
    "obs_type": ["1:1", "enhanced", "bay watch", "level 2", "cohort"],
    "lift_aid": ["hoist", "Mangar Camel", "Hoverjack", "flat lifting", "the Mangar ELK"],
    "postural": ["30 mmHg", "25 mmHg", "20 mmHg"],
    "anticoag": ["apixaban", "warfarin", "enoxaparin", "rivaroxaban", "edoxaban"],
    "bone_mod": ["L wrist", "R wrist", "L neck of humerus", "R neck of humerus", "pubic rami", "R ankle", "L ankle",
                 "ribs", "nose", "L clavicle", "R clavicle", "5th metatarsal"],
    "mod_fix": ["placed in a backslab and referred to fracture clinic", "pt required MUA under sedation",
                "conservative management by ortho with extended stay for mobility", "pt required surgical fixation"],
    "nof_op": ["hemiarthroplasty", "DHS", "total hip replacement", "IM nail"],
    "ct_small": ["a small subarachnoid bleed", "no acute bleed", "a small scalp haematoma only"],
    "cast": ["a cast", "a sling", "a boot"],
    "scald_low": ["small superficial scald to {limb} from a cup of tea. Cooled under running water and dressed.",
                  "minor burn to {limb} from a hot water bottle; redness only, dressed."],
    "scald_mod": ["partial thickness scald to thighs after spilling hot tea; referred to burns unit and required dressings under the plastics team.",
                  "burn to {limb} from a radiator; blistering, required burns clinic follow-up and repeated dressings."],
    "scald_sev": ["full thickness burn to lower legs from bath water that was too hot; required skin grafting with permanent scarring and reduced mobility."],
    "trap_thing": ["bed rails", "the wheelchair spokes", "the door", "the bed table", "the commode frame"],
    "trap_no": ["Freed immediately, no injury.", "No injury sustained."],
    "trap_low": ["Small skin tear, steristripped.", "Bruising noted, x-ray NAD."],
    "trap_mod": ["X-ray showed a fracture requiring splinting and fracture clinic follow-up."],
    "food_item": ["sandwiches", "toast", "meat", "a biscuit", "mashed potato", "chicken"],
    "choke_no": ["Back blows given and food cleared. No harm.", "Cleared own airway, no harm, SALT referral made."],
    "choke_low": ["Back blows given and food cleared; sats dropped to {sats} briefly, O2 given and recovered."],
    "choke_mod": ["Airway cleared by {doctor} with Magill forceps; developed aspiration pneumonia requiring IV antibiotics."],
    "choke_sev": ["Pt had respiratory arrest; resuscitated but left with hypoxic brain injury."],
    "choke_death": ["Pt had a respiratory arrest; CPR commenced but pt died."],
    "amb_fall": ["from the stretcher", "down the vehicle steps", "while being moved on the carry chair",
                 "at home while crew were fetching the chair"],
    "amb_fall_when": ["during loading", "on arrival at hospital", "at the scene", "during offload at ED"],
    "fall_ago": ["overnight", "around 06:00", "sometime yesterday evening", "several hours earlier"],
    "ld_fall": ["getting off the minibus", "in the bathroom at the respite unit", "during a seizure in the lounge",
                "at the day centre while dancing", "on the garden path"],
})

SPECS[CARE] = {
    "weight": 12, "harm": (68.5, 24.9, 4.8, 1.2, 0.67),
    "settings": {"A": 62, "H": 10, "C": 14, "M": 7, "G": 3, "L": 4},
    "events": [
        T("Obs not recorded for {n_hours} hours; NEWS2 of {news} at {time} not escalated to {doctor}.", "A H"),
        T("NEWS2 {news} recorded {time} but escalation not documented until {clock2}.", "A H"),
        T("Pt's pressure areas not checked for {n_hours} hrs; repositioning chart {chart_gap}. {pu@}", "A H C L"),
        T("{pu_found} {pu@}", "A H C"),
        T("Fluid balance chart not completed; urine output not monitored despite {aki_flag}.", "A H"),
        T("Pt NBM for {nbm_hours} hours awaiting theatre; no IV fluids prescribed.", "A"),
        T("BMs not checked {bm_gap} for insulin-dependent diabetic pt.", "A H M C"),
        T("Abnormal blood result ({abn_result}) not acted on for {delay_period}.", "A H G"),
        T("Pt on {obs_type} obs found unattended {time}; allocated {hca} on break and had not handed over.", "A H M"),
        T("VTE risk assessment not completed on admission and no thromboprophylaxis prescribed.", "A H"),
        T("Sepsis screen positive {time} but IV antibiotics not given until {abx_delay}.", "A H"),
        T("Catheter not reviewed for {cath_days} days; no catheter care plan in place.", "A H C"),
        T("MUST score not completed and weight not recorded for {n_days} days; food charts incomplete.", "A H M"),
        T("Pt deteriorating over the shift (RR {rr}, sats {sats}% on {o2}) - not escalated until {delay_short} later.", "A H"),
        T("Planned {planned_review} not carried out; pt remained on {therapy} longer than intended.", "A H"),
        T("DN visit missed; pt's {community_task} not done.", "C"),
        T("Referral to tissue viability not actioned for {delay_period}; wound deteriorated.", "C", "low mod sev"),
        T("Pt on level {mh_level} observations; observation record shows {obs_gap}.", "M"),
        T("Physical health monitoring (ECG and bloods) for pt on {antipsychotic} not completed for {delay_period}.", "M"),
        T("Pt on {monitored_drug} had no blood monitoring for {months} months despite recall.", "G"),
        T("Epilepsy care plan not followed; buccal midazolam not given when seizure exceeded 5 minutes.", "L"),
        T("MEWS of {news} not escalated to obstetric registrar for {delay_short}.", "A.maternity"),
        T("Neuro obs post head injury not done as prescribed; {neuro_gap}.", "A H"),
        T("CTG not reviewed hourly (fresh eyes) during labour for {delay_short}.", "A.maternity"),
        T("PEWS of {news} not escalated; {delay_short} before the paediatric registrar was called.", "A.paeds"),
        T("Pt's oxygen prescribed target sats 88-92% but pt on {o2} with sats 99% for several hours.", "A H"),
        T("Post-op obs not done for {n_hours} hours after return from theatre.", "A"),
    ],
    "details": ["eObs showed obs overdue at the time.", "Pt had been handed over as 'stable'.",
                "Bay had 8 pts with one RN.", "Pt was on the outlier list.", "Pt had been declining checks at times.",
                "Incident identified at the safety huddle.", "Pt known to have {pmh}."],
    "out": {
        "no": ["Pt reviewed and no harm identified.", "Obs subsequently within normal range; no harm caused.",
               "Picked up at handover, no harm.", "No harm to pt - corrected the same shift.",
               "Skin checked and intact, no harm."],
        "low": ["Pt required extra monitoring and {minor_treatment}; recovered.",
                "Pt became {mild_effect}, corrected with {minor_treatment}.",
                "Pt required {minor_treatment} and increased obs; no lasting effect."],
        "mod": ["Pt deteriorated and required transfer to HDU; stay extended.",
                "Pt developed AKI stage 2 requiring IV fluids and an extended admission.",
                "pt required ITU admission with sepsis, now stepped down.",
                "Pt developed {mod_complication} requiring further treatment."],
        "sev": ["Delay has led to permanent {perm_harm}.",
                "Pt suffered hypoxic brain injury following a peri-arrest; long-term neuro rehab required."],
        "death": ["Pt had a cardiac arrest at {clock2} and was not successfully resuscitated.",
                  "Pt deteriorated and died {death_when}; delayed escalation likely contributed."],
    },
    "actions": ["Escalated to {doctor}.", "NEWS2 repeated and escalated.", "Sepsis 6 commenced.",
                "Repositioning chart reinstated {turn_freq}.", "Air mattress ordered.", "Referral to TVN.",
                "Fluid balance chart commenced.", "Handover sheet updated.", "Staff reminded of obs policy.",
                "Dietitian referral.", "Bloods repeated.", "Critical care outreach called.", "Photos taken of wound.",
                "Visit rescheduled for same day."],
    "causes": ["Ward staffed with 4 RNs instead of 6.", "High acuity and two unplanned admissions.",
               "eObs device not synced so overdue obs not visible.", "Handover did not include {handover_gap}.",
               "Agency staff unfamiliar with escalation process.", "Result not flagged on the system.",
               "Pt declined repositioning at times - not documented.", "No dynamic mattress available in the hospital.",
               "Caseload exceeded capacity; visits prioritised.", "Pt moved wards x3 in 24 hours.",
               "Outreach team covering two sites."],
}
G.update({
    "chart_gap": ["blank from {clock} to {clock2}", "not started", "incomplete overnight", "not filled in since admission"],
    "pu_found": ["On admission to caseload {nurse} found pressure damage to {pu_site}.",
                 "Skin check at {clock} found pressure damage to {pu_site}.",
                 "Pressure damage to {pu_site} noted during personal care by {hca}.",
                 "Pt transferred from {hosp2} with undocumented pressure damage to {pu_site}."],
    "pu_site": ["sacrum", "L heel", "R heel", "both heels", "coccyx", "R buttock", "L hip", "ear (from O2 tubing)",
                "bridge of nose (from NIV mask)"],
    "pu_no": ["Skin checked - redness blanching, no skin damage.", "Skin intact on inspection, no harm."],
    "pu_low": ["Category 2 pressure ulcer to {pu_site}.", "Category 2 pressure ulcer with broken skin to {pu_site}, dressed."],
    "pu_mod": ["Category 3 pressure ulcer to {pu_site}.", "Unstageable pressure ulcer to {pu_site} with slough.",
               "Deep tissue injury to {pu_site}, now requiring TVN input and extended stay."],
    "pu_sev": ["Category 4 pressure ulcer to {pu_site} with bone visible.",
               "Category 4 pressure ulcer with osteomyelitis requiring long-term antibiotics."],
    "pu_death": ["Category 4 sacral pressure ulcer with osteomyelitis and sepsis; pt died {death_when}."],
    "hosp2": ["another trust", "the acute hospital", "a nursing home", "the district general hospital", "a care home"],
    "aki_flag": ["rising creatinine", "AKI alert on bloods", "catheter in situ", "poor oral intake",
                 "pt on furosemide infusion"],
    "nbm_hours": ["14", "18", "20", "26", "30"],
    "bm_gap": ["for 12 hours", "before meals as prescribed", "overnight", "for 2 days", "before insulin was given"],
    "abn_result": ["K+ 6.8", "Na 118", "Hb 62", "INR 7.2", "CRP 310", "troponin 1840", "lactate 4.6", "glucose 29"],
    "abx_delay": ["{n_hours} hours later", "the next morning", "after the ward round"],
    "cath_days": ["14", "21", "28", "35", "60"],
    "delay_short": ["90 mins", "2 hours", "3 hours", "4 hours", "6 hours"],
    "planned_review": ["consultant review", "antibiotic review at 48 hrs", "medication review",
                       "NG tube position check", "post-op review", "physio review", "dietitian review"],
    "therapy": ["IV antibiotics", "a PCA", "IV fluids", "a urinary catheter", "NIV", "an insulin sliding scale"],
    "community_task": ["insulin injection", "leg ulcer dressing change", "catheter change", "PICC flush",
                       "enoxaparin injection", "syringe driver check"],
    "obs_gap": ["a 40-minute gap", "entries pre-written in advance", "obs signed by a staff member on break",
                "no entries between {clock} and {clock2}"],
    "antipsychotic": ["clozapine", "olanzapine", "depot paliperidone", "lithium", "aripiprazole"],
    "monitored_drug": ["methotrexate", "lithium", "azathioprine", "amiodarone", "warfarin", "leflunomide"],
    "months": ["4", "6", "8", "9", "12"],
    "neuro_gap": ["only two sets recorded in 8 hours", "GCS not recorded overnight", "pupils not checked"],
    "turn_freq": ["2-hourly", "4-hourly", "3-hourly"],
    "handover_gap": ["the pt's falls risk", "the pending result", "the NEWS2 trend", "that obs were overdue",
                     "the pt's DNACPR status", "the plan for repeat bloods"],
    "mod_complication": ["a hospital-acquired pneumonia", "a DVT", "a PE", "severe hyponatraemia",
                         "an infected wound", "AKI stage 3"],
})

SPECS[MEDS] = {
    "weight": 10, "harm": (79.6, 16.9, 2.6, 0.52, 0.38),
    "settings": {"A": 58, "H": 7, "M": 10, "C": 9, "G": 8, "P": 4, "L": 4},
    "events": [
        T("{drug_any_cap} prescribed {freq_a} but given {freq_b} for {n_doses} doses before picked up on pharmacy review.",
          "A H M L"),
        T("{time_cap} dose of {drug_any} omitted - {omit_reason}."),
        T("{nurse_cap} gave {drug_any} to the wrong pt; the pt in {bed_other} has a similar name. ID band not checked.",
          "A H M"),
        T("CD count {time} found {cd_discrepancy}. {cd_followup}", "A H M"),
        T("Pt has a documented {allergy_given}.", "A H M"),
        T("{allergy_rx}", "G C L P"),
        T("Pt's {insulin} {insulin_err} {insulin@}", "A H C M L"),
        T("Enoxaparin {enox_dose} s/c {enox_err}", "A H C"),
        T("Gentamicin {gent_err}", "A H"),
        T("Warfarin {warf_err}", "A H C G"),
        T("Apixaban {apix_err}", "A H G C"),
        T("{opioid_err}", "A H C P"),
        T("Paracetamol {para_err}", "A H M L"),
        T("TTO {tto_err}", "A H M"),
        T("Pt {self_admin}", "A H M"),
        T("{route_err}", "A H"),
        T("Syringe driver containing {sd_mix} {sd_err}", "A H C"),
        T("Pharmacist identified {pharm_err} before any doses were given.", "A H M", "no"),
        T("On DN visit pt's {blister_err}", "C"),
        T("{gp_rx_err}", "G"),
        T("Crew {amb_med_err}", "P"),
        T("{ld_med_err}", "L"),
        T("Depot {depot_err}", "M"),
        T("Clozapine {cloz_err}", "M"),
        T("Infusion pump programmed at {rate_err} for {iv_drug}; {pump_catch}", "A H"),
        T("Pt given {drug_any} stat by {doctor} but not prescribed on chart; verbal order only.", "A H"),
        T("{kid_drug} prescribed for child at {kid_err}.", "A.paeds"),
        T("Oxytocin infusion {oxy_mat_err}", "A.maternity"),
        T("Vaccine {vacc_err}", "G"),
    ],
    "details": ["Drug round interrupted multiple times.", "Two pts with similar names on the bay.",
                "Drug chart was the old paper chart; pt moved to ePMA mid-admission.",
                "Second checker not available as only one RN on shift.", "Pharmacy closed at the time.",
                "Pt was {pt_state}.", "Prescription was on a supplementary chart.", "Pt's own drugs used."],
    "out": {
        "no": ["No harm caused.", "Obs stable, no harm to pt.", "No adverse effects observed.", "Pt monitored, no harm.",
               "Dose given late, no harm.", "Pt well, no harm.", "Error identified before administration, no harm."],
        "low": ["Pt {mild_effect}; additional obs for {n_hours} hours, recovered.",
                "Pt experienced {side_effect}, treated with {minor_treatment}.",
                "Extra bloods required; pt monitored overnight with no lasting effect."],
        "mod": ["Pt developed {med_mod} requiring {mod_treatment} and extended stay.",
                "Pt required transfer to HDU for monitoring and treatment.",
                "pt required ITU admission for {n_days} days."],
        "sev": ["Pt has been left with {med_perm}.", "Resulted in permanent {med_perm}."],
        "death": ["Pt suffered a cardiac arrest and could not be resuscitated.",
                  "Pt died {death_when}; coroner informed given the medication error."],
    },
    "actions": ["{doctor_cap} informed and pt reviewed.", "Dose withheld and levels checked.", "Pharmacy informed.",
                "Obs increased.", "Naloxone available at bedside.", "BM monitoring increased to hourly.",
                "Drug chart rewritten.", "Reflective statement requested from staff involved.",
                "Medication reconciled with GP records.", "CD register corrected and witnessed.",
                "Medication safety officer informed.", "Pt and {nok} informed; apology given."],
    "causes": ["Interruptions during drug round.", "Look-alike sound-alike drugs ({lasa}).",
               "Prescription unclear - abbreviation used.", "Pump programmed incorrectly; no drug library in use.",
               "Insulin prescribed as 'u' misread.", "Pharmacy stock not available.", "ePMA alert overridden.",
               "Transcribing error from discharge letter.", "Syringe driver not checked at the 4-hourly check.",
               "New to ward - not familiar with CD procedure.", "Two pts with the same surname in one bay."],
}
G.update({
    "drug_any": ["paracetamol 1g", "co-amoxiclav 1.2g IV", "enoxaparin 40mg", "gentamicin", "insulin", "morphine",
                 "oxycodone 5mg", "warfarin 3mg", "apixaban 5mg", "amoxicillin 500mg", "furosemide 40mg",
                 "levetiracetam 500mg", "metformin", "bisoprolol 2.5mg", "ramipril", "clopidogrel 75mg",
                 "prednisolone 30mg", "vancomycin", "Tazocin 4.5g", "Oramorph 5mg", "sertraline", "lithium",
                 "olanzapine 10mg", "lorazepam 1mg", "haloperidol", "potassium chloride", "digoxin 125mcg",
                 "levothyroxine", "salbutamol nebs", "dalteparin", "fentanyl patch", "zopiclone 7.5mg",
                 "codeine 30mg", "tramadol", "ondansetron", "cyclizine", "heparin", "Madopar", "co-careldopa",
                 "meropenem", "amlodipine", "atorvastatin"],
    "freq_a": ["OD", "once weekly", "BD", "nocte", "PRN", "TDS"],
    "freq_b": ["BD", "daily", "QDS", "TDS", "regularly", "twice"],
    "n_doses": ["2", "3", "4", "5", "6"],
    "omit_reason": ["not available on the ward", "pt off the ward at x-ray", "drug chart could not be found",
                    "dose signed as given but found in pot", "pt NBM but not told to give with sips",
                    "missed at handover", "pt asleep and not re-offered", "pharmacy had not supplied"],
    "bed_other": ["bed 3", "the next bed", "bay 2 bed 4", "the opposite bed", "side room 4"],
    "cd_discrepancy": ["morphine sulfate 10mg/1ml balance incorrect by {n_small} ampoule(s)",
                       "oxycodone 5mg capsule balance incorrect by {n_small} capsule(s)",
                       "Oramorph 10mg/5ml balance out by {cd_ml} ml", "fentanyl 25mcg patch balance incorrect by 1 patch",
                       "midazolam 10mg/2ml balance incorrect by 1 ampoule", "diamorphine 5mg balance incorrect by {n_small} ampoule(s)",
                       "one ampoule of morphine unaccounted for"],
    "cd_ml": ["5", "10", "12", "20", "35"],
    "cd_followup": ["Not resolved by end of shift.", "Discrepancy later traced to an entry error.",
                    "Pharmacy and senior nurse informed.", "Unable to account for the missing stock.", ""],
    "allergy_given": ["{penicillin} allergy on the drug chart and ID band, however {penicillin_drug} was given",
                      "penicillin allergy recorded on EPR but {penicillin_drug} was prescribed and one dose given",
                      "NSAID allergy (bronchospasm) on the drug chart, however ibuprofen was given PRN",
                      "codeine allergy on the ID band, however co-codamol 30/500 was given",
                      "clarithromycin allergy documented, however clarithromycin IV was given for CAP"],
    "penicillin": ["penicillin", "Penicillin (anaphylaxis)", "penicillin (rash)"],
    "penicillin_drug": ["co-amoxiclav", "Tazocin", "amoxicillin", "flucloxacillin", "benzylpenicillin"],
    "allergy_rx": ["Amoxicillin prescribed for a pt with a recorded penicillin allergy.",
                   "Co-codamol supplied to a pt with a documented codeine allergy.",
                   "Ibuprofen advised for a pt with a recorded NSAID allergy.",
                   "Flucloxacillin given to a pt with a penicillin allergy recorded in the care plan."],
    "insulin": ["Novorapid", "Lantus", "Humulin I", "Levemir", "Humalog", "Tresiba", "Trurapi", "insulin"],
    "insulin_err": ["was given twice - once on the early and again on the late shift.",
                    "dose omitted as pt 'eating poorly'.", "given with no BM checked beforehand.",
                    "prescribed as 10u and read as 100 units.", "given to pt whose BM was {bm_low}.",
                    "not given at teatime as pen could not be found.", "VRIII stopped without long-acting insulin continued."],
    "insulin_no": ["BMs remained stable, no harm.", "BM monitoring increased, remained within range - no harm."],
    "insulin_low": ["BM dropped to {bm_low}, treated with Hypostop and recovered.", "BM rose to {bm_high}, corrected with extra insulin."],
    "insulin_mod": ["Pt became unresponsive with BM {bm_low}; required IV glucose and extended monitoring.",
                    "Pt developed DKA and required HDU admission."],
    "insulin_sev": ["Prolonged hypoglycaemia caused a permanent brain injury."],
    "insulin_death": ["Pt found unresponsive with BM 0.8 and could not be resuscitated."],
    "enox_dose": ["40mg", "80mg", "1.5mg/kg", "120mg", "20mg"],
    "enox_err": ["given while pt was already on apixaban.", "given within 12 hrs of epidural removal against guidance.",
                 "dose not adjusted for eGFR of 18.", "prescribed at treatment dose in error (prophylaxis intended).",
                 "given twice - the evening dose was also given by the night nurse.", "omitted for 3 days after surgery."],
    "gent_err": ["level not taken before the 2nd dose; level later {gent_level}.",
                 "dose calculated on actual not ideal body weight.", "given at 06:00 rather than the prescribed time, level then missed.",
                 "continued for 9 days with no level monitoring."],
    "gent_level": ["4.2", "3.8", "6.1", "2.9"],
    "warf_err": ["dose not given for 3 days as INR not checked.", "given despite INR 6.4 on morning bloods.",
                 "restarted at discharge without INR monitoring arranged.", "dose recorded as 5mg by the GP but pt taking 3mg.",
                 "given alongside enoxaparin after INR target reached."],
    "apix_err": ["5mg BD prescribed instead of 2.5mg BD for pt meeting dose-reduction criteria.",
                 "not restarted after surgery for {n_days} days.", "given with therapeutic enoxaparin (double anticoagulation).",
                 "stopped at admission and omitted from the discharge letter."],
    "opioid_err": ["Oxycodone MR 20mg given instead of oxycodone IR 5mg.", "Morphine 10mg IV given instead of 1mg.",
                   "Oramorph 10mg/5ml given as 10ml instead of 2.5ml.", "Fentanyl patch not removed before new patch applied.",
                   "Morphine PCA left connected after pt became drowsy.", "Two buprenorphine patches found on pt.",
                   "Morphine given IM by crew at the wrong dose.", "Oxycodone given 1 hour after previous dose (PRN 4-hourly)."],
    "para_err": ["1g given to pt weighing 38 kg.", "given 2 hours after co-codamol had been given.",
                 "IV paracetamol given when oral dose had been given 1 hour earlier.", "given QDS plus PRN doses, total 6g in 24 hours."],
    "tto_err": ["did not include pt's {drug_any}.", "given to wrong pt in the discharge lounge.",
                "contained discontinued warfarin.", "not ready, pt went home without medication."],
    "self_admin": ["found to be taking own {drug_any} from home in addition to ward supply.",
                   "had a bottle of Oramorph in locker, not on chart.", "self-administering insulin without BM checks."],
    "route_err": ["IV co-amoxiclav given orally by mistake.", "Oral morphine solution drawn up in an IV syringe.",
                  "Enoxaparin given IM instead of s/c.", "Omeprazole prescribed IV but given po without change in prescription."],
    "sd_mix": ["morphine and midazolam", "oxycodone and levomepromazine", "diamorphine and cyclizine", "midazolam"],
    "sd_err": ["found to have run through 6 hours early - rate set incorrectly.", "not started after the previous one finished.",
               "tubing not primed, pt received no medication overnight.", "set up with the wrong diluent volume."],
    "pharm_err": ["a 10-fold dosing error for methotrexate (daily instead of weekly)", "co-prescription of two anticoagulants",
                  "the wrong strength of levothyroxine on the chart", "a penicillin prescribed to an allergic pt",
                  "duplicate prescribing of paracetamol"],
    "blister_err": ["blister pack contained last week's medication as well as this week's.",
                    "dosette box found with {n_days} days of tablets not taken.",
                    "insulin pen found to contain the wrong insulin.", "fentanyl patch not changed for 6 days."],
    "gp_rx_err": ["Repeat prescription issued for {drug_any} despite it being stopped at hospital discharge.",
                  "Methotrexate 10mg issued daily instead of weekly on repeat template.",
                  "Pt prescribed trimethoprim while on methotrexate; interaction not flagged.",
                  "Discharge letter medication changes not actioned for {delay_period}."],
    "amb_med_err": ["gave IV paracetamol to pt who had taken 1g orally 2 hours earlier.",
                    "administered morphine without documenting the dose.", "drug pouch seal found broken, morphine missing.",
                    "gave GTN to pt with BP 88/50."],
    "ld_med_err": ["Service user's epilepsy medication (sodium valproate) not given for {n_days} days due to stock running out.",
                   "Support worker gave the evening medication to the wrong service user.",
                   "MAR chart not signed for 3 days; unable to establish whether meds given."],
    "depot_err": ["injection given 2 weeks late as not booked.", "given at the wrong dose (150mg instead of 100mg).",
                  "given to wrong pt at depot clinic."],
    "cloz_err": ["restarted at full dose after 4 days of missed doses without re-titration.",
                 "dispensed without valid blood result.", "dose not given for {n_days} days on admission."],
    "rate_err": ["10x the prescribed rate", "ml/hr instead of mg/hr", "the wrong concentration"],
    "iv_drug": ["heparin", "amiodarone", "insulin", "IV fluids", "potassium chloride", "vancomycin", "morphine"],
    "pump_catch": ["error noted at the next check after {n_hours} hours.", "noticed after 15 mins by the second nurse.",
                   "picked up at handover."],
    "kid_drug": ["Gentamicin", "Paracetamol", "Morphine", "Ibuprofen", "Ceftriaxone"],
    "kid_err": ["10 times the weight-based dose (decimal point error)", "the adult dose", "a dose based on an old weight"],
    "oxy_mat_err": ["rate doubled without documentation; uterine hyperstimulation noted on CTG.",
                    "continued despite CTG abnormalities.", "prepared at the wrong concentration."],
    "vacc_err": ["given to pt already vaccinated 2 weeks earlier.", "administered after expiry date.",
                 "stored in fridge that had been above 8C for 2 days."],
    "side_effect": ["a rash", "vomiting", "hypotension", "drowsiness", "bradycardia", "a headache"],
    "med_mod": ["AKI", "a GI bleed", "respiratory depression", "a significant bleed", "prolonged hypoglycaemia",
                "toxic drug levels"],
    "med_perm": ["permanent hearing loss", "permanent vestibular damage", "long-term renal failure requiring dialysis",
                 "permanent left-sided weakness after an intracranial bleed"],
    "lasa": ["oxycodone MR/IR", "hydroxyzine/hydralazine", "carbamazepine/carbimazole", "Novorapid/Novomix"],
})

SPECS[TREAT] = {
    "weight": 8, "harm": (71.3, 21.5, 5.4, 1.2, 0.66),
    "settings": {"A": 78, "H": 4, "C": 6, "G": 6, "P": 6},
    "events": [
        T("{procedure_cap} performed on the wrong {wrong_thing}.", "A.theatre"),
        T("WHO checklist {who_issue} prior to {procedure}.", "A.theatre", "no low"),
        T("Retained {retained_item} found on post-op imaging following {procedure}.", "A.theatre", "low mod sev"),
        T("Swab count incorrect at the end of {procedure}; {count_resolution}", "A.theatre", "no low mod"),
        T("NG tube used for feed before position confirmed; {ng_confirm}", "A H"),
        T("Cannulation attempted x{n_attempts} by {doctor} resulting in {cannula_issue}.", "A H", "low mod"),
        T("Pt's {procedure} cancelled on the day as {cancel_reason}.", "A.theatre A.ward"),
        T("During {procedure} {intraop@}", "A.theatre"),
        T("Chest drain {chest_drain_issue}.", "A.ward A.itu A.ed"),
        T("Blood transfusion {transfusion_issue}.", "A H"),
        T("Delay in {treatment} of {delay_period} due to {delay_reason}.", "A"),
        T("Urinary catheter {cath_issue}.", "A H C"),
        T("{line_type} insertion {line_issue}.", "A"),
        T("{mat_proc_issue}", "A.maternity"),
        T("{mat_harm_issue}", "A.maternity", "low mod sev"),
        T("Crew {amb_proc_issue}", "P"),
        T("{gp_proc_issue}", "G"),
        T("{gp_harm_issue}", "G", "low mod"),
        T("DN {dn_proc_issue}", "C"),
        T("DN {dn_harm_issue}", "C", "low mod"),
        T("Pt received {proc_dose_err} during {procedure}.", "A.theatre A.imaging"),
        T("Pt consented for {procedure} but {procedure2} listed and pt prepped for it; error noticed at sign-in.",
          "A.theatre", "no"),
        T("Diathermy pad {diathermy_issue}.", "A.theatre", "low mod"),
        T("Tourniquet left inflated for {tq_time} during {procedure}.", "A.theatre"),
        T("Pt extubated and {extubation_issue}.", "A.itu A.theatre", "low mod sev"),
        T("Wound dressing changed without aseptic technique and {dressing_issue}.", "A H C", "low mod"),
    ],
    "details": ["List overran and was running late.", "Consultant not present, registrar operating.",
                "Theatre team had changed mid-list.", "Pt had been consented in clinic 3 months earlier.",
                "Procedure was out of hours.", "Equipment tray was incomplete."],
    "out": GENERIC_OUT,
    "actions": ["Pt informed and apology given.", "Consultant informed.", "Return to theatre arranged.",
                "Imaging performed to confirm.", "Procedure re-listed.", "Surgical safety checklist audit requested.",
                "Team debrief held.", "Specimen sent to histology.", "Pt reviewed by surgical registrar."],
    "causes": ["Site marking not done.", "Checklist done as a tick-box exercise.", "Time pressure on the list.",
               "Equipment not checked before use.", "Inexperienced operator, unsupervised.", "Fatigue - end of a long shift.",
               "Consent taken by a junior not familiar with the procedure.", "Similar named pts on the list."],
}
G.update({
    "procedure": ["laparoscopic cholecystectomy", "knee arthroscopy", "hip hemiarthroplasty", "TURP", "cataract surgery",
                  "hernia repair", "appendicectomy", "OGD", "colonoscopy", "angiogram", "caesarean section",
                  "ERCP", "excision of skin lesion", "carpal tunnel release", "hysteroscopy", "cystoscopy",
                  "lumbar puncture", "PICC insertion"],
    "procedure2": ["a colonoscopy", "a right knee arthroscopy", "a left inguinal hernia repair", "a different procedure"],
    "wrong_thing": ["side (left instead of right)", "digit", "level of the spine", "tooth", "eye", "pt"],
    "who_issue": ["not completed", "'time out' not performed", "sign-out not done", "completed after knife to skin"],
    "retained_item": ["swab", "guidewire", "needle", "instrument fragment", "vaginal swab", "drain tip"],
    "count_resolution": ["x-ray confirmed nothing retained.", "swab found in the bin after a search.",
                         "x-ray showed retained swab, pt returned to theatre.", "unresolved at end of case, x-ray NAD."],
    "ng_confirm": ["x-ray later showed tube in the right main bronchus.", "aspirate pH not checked.",
                   "tube found coiled in the mouth.", "position confirmed later as correct."],
    "n_attempts": ["4", "5", "6", "7"],
    "cannula_issue": ["extensive bruising to both arms", "extravasation of IV fluids", "a haematoma",
                      "nerve pain in the wrist", "pt distress and refusal of further attempts"],
    "cancel_reason": ["pre-op bloods not done", "the pt had eaten", "anticoagulation not stopped", "no ITU bed",
                      "the list overran", "consent not valid", "equipment not available"],
    "intraop_no": ["the wrong implant was opened; identified before use and no harm caused.",
                   "the pt became briefly hypotensive, responded to fluids; no harm.",
                   "the diathermy failed and was replaced; no harm to pt."],
    "intraop_low": ["the pt's tooth was chipped during intubation; dental review arranged.",
                    "a small serosal tear was identified and oversewn; no further treatment needed."],
    "intraop_mod": ["a bowel perforation occurred and was repaired; stay extended by {n_days} days.",
                    "bleeding from a vessel required conversion to open and a blood transfusion.",
                    "a bladder injury was identified, requiring repair and a catheter for 10 days."],
    "intraop_sev": ["the common bile duct was injured, requiring hepaticojejunostomy and long-term follow-up.",
                    "nerve injury occurred with permanent foot drop."],
    "intraop_death": ["the pt had a massive haemorrhage and died on the table despite resuscitation."],
    "chest_drain_issue": ["fell out on the ward", "inserted on the wrong side", "clamped for 12 hours without instruction",
                          "swinging stopped and not reviewed", "bottle knocked over and not re-sited"],
    "transfusion_issue": ["started without a second check", "ran over 10 hours", "of the wrong blood group prevented at the bedside check",
                          "given without a valid sample", "delayed 6 hours awaiting a group and save"],
    "treatment": ["antibiotics", "thrombolysis", "surgery", "dialysis", "chemotherapy", "analgesia", "a CT scan"],
    "delay_reason": ["no theatre capacity", "no anaesthetist available", "the request was not made", "no bed",
                     "equipment failure", "pt transferred between wards"],
    "cath_issue": ["balloon inflated in the urethra", "inserted with no clinical indication", "inserted without aseptic technique",
                   "removed with the balloon still inflated", "left spigotted for 12 hours"],
    "line_type": ["PICC", "Central line", "Hickman line", "Arterial line", "Femoral line"],
    "line_issue": ["caused a pneumothorax", "misplaced in the internal jugular", "resulted in arterial puncture",
                   "required 4 attempts", "guidewire not retrieved"],
    "mat_proc_issue": ["Delay to category 2 caesarean section of {n_mins} minutes.",
                       "Fetal blood sample not taken despite pathological CTG.", "Epidural sited at the wrong level.",
                       "Swab count not completed after perineal repair."],
    "mat_harm_issue": ["Third degree tear not identified at delivery.", "PPH of {pph} after retained placenta.",
                       "Shoulder dystocia not escalated promptly to the obstetric registrar."],
    "pph": ["1.2L", "1.8L", "2.5L"],
    "n_mins": ["45", "55", "70", "90"],
    "amb_proc_issue": ["unable to intubate; iGel used as rescue.", "12-lead ECG not transmitted to the cath lab.",
                       "IO access attempted in the wrong site.", "applied a traction splint without documenting distal pulses.",
                       "did not apply a pelvic binder to trauma pt."],
    "gp_proc_issue": ["Joint injection given into the wrong knee.", "Coil fitted without pregnancy test.",
                      "Smear taken from the wrong pt.", "Ear irrigation done without checking for previous perforation."],
    "gp_harm_issue": ["Ear irrigation caused perforation of the eardrum.", "Minor surgery wound dehisced."],
    "dn_proc_issue": ["applied compression bandaging without a doppler assessment.", "flushed PICC with the wrong solution.",
                      "packed wound with the wrong dressing."],
    "dn_harm_issue": ["changed catheter and caused urethral trauma with bleeding.", "removed dressing and tore fragile skin."],
    "proc_dose_err": ["contrast despite a known contrast allergy", "the wrong local anaesthetic volume",
                      "double the intended sedation", "the wrong implant size"],
    "diathermy_issue": ["placed over a metal implant, causing a burn", "not fully adhered, superficial burn noted"],
    "tq_time": ["150 minutes", "2 and a half hours", "3 hours"],
    "extubation_issue": ["required re-intubation within 1 hour", "desaturated to 78% requiring bag-valve-mask support", "had laryngospasm"],
    "dressing_issue": ["the wound became infected", "the dressing was left in for 10 days"],
})

SPECS[ACCESS] = {
    "weight": 8, "harm": (82.8, 14.4, 2.1, 0.37, 0.38),
    "settings": {"A": 58, "M": 12, "P": 12, "C": 6, "G": 6, "H": 6},
    "events": [
        T("Pt discharged {discharge_issue}.", "A.discharge H"),
        T("Pt waited {trolley_wait} hours in ED for a bed.", "A.ed"),
        T("Pt transferred to {ward2} at {clock_night} without {handover_item}.", "A"),
        T("Pt left the ward without informing staff {time}; {awol_outcome}", "A H"),
        T("Pt on {mh_section} absconded while on escorted leave in {abscond_where}; {abscond_outcome}", "M"),
        T("Pt failed to return from s17 leave; {abscond_outcome}", "M.ward"),
        T("Delayed response: {amb_delay}", "P"),
        T("Pt held in ambulance outside ED for {handover_delay} due to ED capacity.", "P"),
        T("Referral to {service} not actioned for {delay_period}.", "G C M.community"),
        T("Pt admitted to {outlier_ward} as an outlier; {outlier_issue}", "A"),
        T("Pt transferred to {hosp2} without {handover_item}.", "A H"),
        T("Pt readmitted within 48 hours of discharge - {readmit_reason}.", "A"),
        T("Pt with dementia left {where} and was found {found_where} by {finder}.", "A H M L"),
        T("Inter-hospital transfer delayed {n_hours} hours as no {transfer_resource} available.", "A"),
        T("Pt discharged from caseload in error; {caseload_consequence}", "C"),
        T("Pt moved bays {n_moves} times overnight for capacity reasons.", "A"),
        T("No ITU bed; pt ventilated in {itu_overflow} for {n_hours} hours.", "A.ed A.theatre"),
        T("Pt discharged home at {clock_night} with no transport and no one at home.", "A"),
        T("Pt arrived on ward from ED with {arrive_issue}.", "A.ward"),
        T("Pt with learning disability admitted without hospital passport; {passport_issue}", "A L"),
        T("Care home refused to readmit pt at discharge as {care_home_reason}.", "A H"),
        T("Pt sent home from ED but {ed_dc_issue}.", "A.ed"),
        T("PTS crew did not collect pt for dialysis; {pts_issue}", "P"),
    ],
    "details": ["Hospital on OPEL 4 at the time.", "Bed manager aware.", "Site was in internal critical incident.",
                "Pt was medically optimised for {n_days} days awaiting a package of care.",
                "Discharge was nurse-led.", "Pt's {nok} had not been told about the discharge."],
    "out": GENERIC_OUT,
    "actions": ["Police informed and missing person procedure followed.", "Pt contacted by phone.", "Pt recalled to ED.",
                "Bed manager escalated.", "Discharge checklist completed retrospectively.", "Family informed.",
                "Pt returned to ward and obs checked.", "Transfer documentation audited.", "Community team informed."],
    "causes": ["Bed pressures / flow.", "Out of hours discharge to create capacity.", "No discharge checklist in use.",
               "Pt absconding risk not identified.", "Ward door left open / no swipe access.",
               "Ambulance queuing at ED.", "Referral sent to wrong team inbox.", "Poor communication with care home.",
               "Package of care not confirmed before discharge."],
}
G.update({
    "discharge_issue": ["without TTO medications", "without a package of care in place", "with a cannula still in situ",
                        "to the wrong address", "without the DN being informed", "before bloods were reviewed",
                        "without district nurse referral for insulin", "with another pt's discharge letter",
                        "late at night to an empty house"],
    "trolley_wait": ["12", "14", "18", "22", "28", "36"],
    "ward2": ["Ward 12", "Ward 7B", "the surgical ward", "an outlier bed on Ward 22", "the frailty unit"],
    "handover_item": ["a verbal handover", "the drug chart", "the notes", "a nurse escort", "their oxygen prescribed",
                      "infection status being handed over"],
    "awol_outcome": ["found in the hospital car park 30 mins later.", "police informed and pt found at home.",
                     "pt returned of own accord 2 hrs later.", "pt located at the bus station.",
                     "not located until the next day."],
    "abscond_where": ["town centre", "the hospital grounds", "a supermarket", "the park"],
    "abscond_outcome": ["returned by police after {n_hours} hours.", "found by staff within the hour.",
                        "located at family home.", "returned voluntarily the following day."],
    "amb_delay": ["Cat 2 call waited {amb_wait} for an ambulance.", "pt waited {amb_wait} on the floor for a Cat 3 response.",
                  "no resource available for {amb_wait} for a stroke call."],
    "amb_wait": ["2 hours", "4 hours", "6 hours", "9 hours", "14 hours"],
    "handover_delay": ["3 hours", "5 hours", "7 hours", "10 hours"],
    "service": ["cardiology", "the memory clinic", "CMHT", "the 2WW clinic", "tissue viability", "physiotherapy",
                "the falls team", "the crisis team"],
    "outlier_ward": ["a surgical ward", "the orthopaedic ward", "the day surgery unit", "gynae ward"],
    "outlier_issue": ["not reviewed by the medical team for 2 days.", "nursing staff not trained in NIV.",
                      "no medical team allocated on the board."],
    "readmit_reason": ["discharged with an unresolved infection", "no support at home", "TTOs not explained",
                       "discharged before fluid balance stable"],
    "found_where": ["outside the main entrance", "in another ward", "on the main road", "in the hospital chapel",
                    "at the bus stop"],
    "finder": ["security", "a member of the public", "police", "porters", "staff from another ward"],
    "transfer_resource": ["ambulance", "critical care transfer team", "bed at the receiving hospital", "escort nurse"],
    "caseload_consequence": ["pt missed {n_days} days of insulin visits.", "pt's leg ulcer dressings not done for a week.",
                             "identified by GP after pt's daughter called."],
    "n_moves": ["3", "4", "5"],
    "itu_overflow": ["ED resus", "theatre recovery", "the anaesthetic room"],
    "arrive_issue": ["no handover", "an unlabelled cannula", "no drug chart", "an unsecured IV line",
                     "infection status unknown"],
    "passport_issue": ["reasonable adjustments not made.", "communication needs not known to staff."],
    "care_home_reason": ["they had not been informed", "needs had changed", "no assessment had been done"],
    "ed_dc_issue": ["bloods not reviewed showed a raised troponin", "x-ray later reported a fracture",
                    "was recalled the same evening"],
    "pts_issue": ["pt missed dialysis session.", "pt waited 3 hours at the unit for return journey."],
})

SPECS[ASSESS] = {
    "weight": 7, "harm": (70.1, 19.9, 5.7, 2.3, 2),
    "settings": {"A": 58, "G": 14, "P": 10, "M": 8, "C": 5, "H": 5},
    "events": [
        T("{missed_dx_cap} missed on initial assessment; pt re-attended {n_days} days later.", "A.ed G P"),
        T("Fracture of the {xr_site} missed on x-ray; identified on radiology report {delay_period} later.", "A.ed H G"),
        T("CT report showing {ct_finding} not reviewed or actioned by the team for {delay_period}.", "A H"),
        T("Blood sample {sample_issue}; repeat required.", "A H G C"),
        T("Pt triaged as {triage_cat} despite {red_flag}.", "A.ed P"),
        T("ECG showing {ecg_finding} not reviewed for {delay_period}.", "A G P"),
        T("Sepsis not recognised at triage; NEWS2 of {news} not calculated.", "A.ed P"),
        T("Stroke symptoms not recognised; FAST not completed and thrombolysis window missed.", "A.ed P A.ward", "low mod sev death"),
        T("Pt's deterioration attributed to {attributed_cause}; {actual_dx} later diagnosed.", "A H", "low mod sev death"),
        T("Histology showing {histo} not acted on; pt not informed for {delay_period}.", "A G"),
        T("Pt presented x{n_visits} with {symptom}; 2WW referral not made until {delay_period} later.", "G"),
        T("111 call: pt with {symptom} advised self-care; pt later {later_outcome}.", "P", "low mod sev death"),
        T("Risk assessment not updated following disclosure of {risk_info}.", "M"),
        T("Child with {paeds_symptom} discharged from ED; returned {n_hours} hours later with {paeds_dx}.", "A.paeds", "low mod sev death"),
        T("CTG misinterpreted as normal; {ctg@}", "A.maternity"),
        T("Wrong body part imaged - request was for {body_imaging} but {wrong_imaging} performed.", "A.imaging"),
        T("Pt's capacity not assessed before {capacity_decision}.", "A H M"),
        T("Crew did not convey pt with {symptom} after {crew_assess}.", "P"),
        T("Head injury pt on anticoagulants not scanned within 8 hrs as per NICE.", "A.ed"),
        T("Pt's low sodium ({low_na}) not noticed on admission bloods.", "A H"),
        T("Telephone consultation for {symptom} - pt not examined; {gp_missed}.", "G", "low mod sev"),
    ],
    "details": ["Pt had attended twice before with similar symptoms.", "Triage nurse was covering two areas.",
                "The result was on the system but not flagged as abnormal.", "Locum doctor, not familiar with the system.",
                "The radiology report was issued {n_days} days after the scan."],
    "out": GENERIC_OUT,
    "actions": ["Pt recalled for review.", "Results reviewed and acted on.", "Consultant informed.",
                "Pt contacted and apology given.", "Case discussed at M&M meeting.", "Referral made urgently.",
                "Learning shared at the departmental teaching session."],
    "causes": ["Results system does not flag abnormal results.", "Inexperienced clinician, no senior review.",
               "Anchoring on the initial diagnosis.", "ED overcrowding, long waits to be seen.",
               "No process for tracking reports.", "Triage tool did not capture the red flag.",
               "Pt had communication difficulties; no interpreter."],
}
G.update({
    "missed_dx": ["scaphoid fracture", "appendicitis", "sepsis", "PE", "ectopic pregnancy", "cauda equina",
                  "subarachnoid haemorrhage", "testicular torsion", "DKA", "MI"],
    "xr_site": ["scaphoid", "NOF", "radial head", "ankle", "cervical spine", "wrist"],
    "ct_finding": ["a lung mass", "a renal lesion", "an incidental AAA", "a PE", "a pancreatic mass", "liver metastases"],
    "sample_issue": ["haemolysed", "rejected by the lab as the wrong tube was used", "lost between the ward and the lab",
                     "taken from the drip arm", "for the wrong test sent"],
    "triage_cat": ["category 4", "minors", "green", "Cat 3", "category 3"],
    "red_flag": ["chest pain radiating to the arm", "sats of 89%", "a GCS of 13", "signs of sepsis",
                 "new neurological symptoms", "a suspected stroke"],
    "ecg_finding": ["ST elevation", "complete heart block", "a prolonged QTc of 560ms", "new AF with a rate of 160"],
    "attributed_cause": ["anxiety", "constipation", "the pt's dementia", "alcohol", "a UTI", "muscular pain"],
    "actual_dx": ["a PE", "a perforated bowel", "an intracranial bleed", "sepsis", "an MI", "hypercalcaemia"],
    "histo": ["adenocarcinoma", "melanoma", "lymphoma", "high-grade dysplasia"],
    "n_visits": ["3", "4", "5"],
    "symptom": ["rectal bleeding", "a persistent cough", "chest pain", "weight loss", "headaches",
                "abdominal pain", "haemoptysis", "breathlessness"],
    "later_outcome": ["called 999 and was admitted with sepsis", "was found to have an MI",
                      "attended ED with a perforated appendix", "was admitted with DKA"],
    "risk_info": ["suicidal plans", "access to firearms", "recent overdose", "threats to harm a neighbour",
                  "stockpiling of medication"],
    "paeds_symptom": ["fever and lethargy", "vomiting", "a non-blanching rash", "abdominal pain"],
    "paeds_dx": ["meningococcal sepsis", "appendicitis", "intussusception", "DKA"],
    "ctg_no": ["picked up by the coordinator at fresh eyes review; baby born in good condition."],
    "ctg_low": ["baby born with low Apgars at 1 min, recovered by 5 mins with brief stimulation."],
    "ctg_mod": ["baby born in poor condition requiring neonatal resuscitation and NICU admission for {n_days} days."],
    "ctg_sev": ["baby born with HIE requiring cooling; long-term neurodevelopmental impairment expected."],
    "ctg_death": ["baby born in very poor condition and died {death_when}."],
    "body_imaging": ["left hip", "right wrist", "chest", "right ankle"],
    "wrong_imaging": ["right hip", "left wrist", "abdomen", "left ankle"],
    "capacity_decision": ["discharge home", "a DNACPR decision", "restricting leave", "covert medication"],
    "crew_assess": ["a 'see and treat' assessment", "discussion with the clinical hub", "normal obs"],
    "low_na": ["Na 116", "Na 119", "Na 121"],
    "gp_missed": ["diagnosed with sepsis 2 days later", "appendicitis later diagnosed in ED",
                  "seen face to face 3 days later and admitted"],
})

SPECS[CONSENT] = {
    "weight": 4, "harm": (91.3, 8, 0.62, 0, 0),
    "settings": {"A": 55, "G": 15, "M": 10, "C": 8, "P": 4, "L": 4, "H": 4},
    "events": [
        T("Letter containing pt details sent to the wrong address."),
        T("Email containing a list of {n_pts} pts' details sent to the wrong recipient.", "A G M C"),
        T("Handover sheet with pt details found in {public_place}.", "A H M"),
        T("Consent form for {procedure} signed by {consent_issue}.", "A.theatre A.ward"),
        T("No MCA assessment or best interests decision documented before {procedure} in a pt lacking capacity.", "A"),
        T("Family not informed of pt's {info_item}; complaint received.", "A H C"),
        T("Interpreter not booked for pt whose first language is {language}; {interp_consequence}"),
        T("DNACPR decision made without discussion with the pt or {nok}.", "A H C"),
        T("Pt's results given over the phone to {wrong_person} without ID check."),
        T("Test results discussed with {nok} without the pt's consent."),
        T("Pt overheard staff discussing another pt's diagnosis in the bay.", "A H"),
        T("Deaf pt - no BSL interpreter booked; communication via relatives.", "A G H"),
        T("Pt's records accessed by a staff member with no clinical reason.", "A G M"),
        T("Pt was not told about a change to their {changed_item} before discharge.", "A H"),
        T("Pt's photograph taken on a personal phone for wound documentation.", "A C H"),
        T("Referral letter sent to the GP of a pt with the same name.", "A G"),
        T("Pt not informed that their procedure was cancelled; attended fasted.", "A.theatre G"),
        T("Information about the pt's HIV status disclosed in a letter copied to {wrong_person}.", "A G"),
        T("Crew left a patient report form at the pt's neighbour's address.", "P"),
        T("Care plan shared with the wrong service user's family.", "L M"),
    ],
    "details": ["Pt's {nok} raised the concern.", "Caldicott Guardian informed.", "IG team notified.",
                "The pt was upset by the disclosure."],
    "out": GENERIC_OUT,
    "actions": ["IG breach reported via the information governance team.", "Recipient asked to delete the email.",
                "Apology given to pt.", "Letter retrieved.", "Interpreter booked for future appointments.",
                "DNACPR discussion held with pt and family.", "Staff member spoken to by the manager.",
                "Caldicott Guardian informed."],
    "causes": ["Address not updated on the system.", "Autocomplete of email address.", "Pressure of time.",
               "Staff unaware of the interpreter booking process.", "Shared computer left logged in.",
               "Two pts with similar names.", "Consent policy not followed."],
}
G.update({
    "public_place": ["the staff canteen", "the hospital car park", "a bus stop outside the hospital", "the visitor toilet"],
    "consent_issue": ["the pt's daughter without LPA", "an FY1 not trained in the procedure", "the pt after sedation was given",
                      "no one - form not signed"],
    "info_item": ["transfer to another ward", "deterioration overnight", "fall", "discharge date", "new diagnosis"],
    "language": ["Polish", "Urdu", "Romanian", "Arabic", "Portuguese", "Bengali", "Tigrinya", "Mandarin"],
    "interp_consequence": ["pt's 12yo son used to interpret.", "consent could not be taken and procedure delayed.",
                           "pt did not understand the discharge advice.", "assessment completed without pt's input."],
    "wrong_person": ["a neighbour", "an ex-partner", "the wrong pt", "the employer", "a family member"],
    "changed_item": ["medication", "follow-up plan", "diagnosis", "care package"],
})

SPECS[DISRUPT] = {
    "weight": 4, "harm": (80.4, 17.6, 1.9, 0, 0),
    "settings": {"A": 35, "M": 42, "P": 8, "G": 6, "L": 6, "C": 3},
    "events": [
        T("Pt {aggress_act} {target} {time}."),
        T("Pt verbally aggressive - shouting and swearing at {target}, threatening to {threat}."),
        T("Visitor became aggressive in {where}, {visitor_act}.", "A H M G"),
        T("Pt intoxicated in ED, {aggress_act} {target}.", "A.ed"),
        T("Pt threw {thrown} at {target}."),
        T("Pt assaulted by another pt in {where}; {p2p_detail}", "M A H L"),
        T("Pt spat at {nurse} during {care_task}."),
        T("Racial abuse directed at {nurse} by pt."),
        T("Pt required restraint ({restraint}) and IM {rt_drug} (rapid tranquillisation) after {aggress_act_ing} staff.", "M A"),
        T("Pt damaged {property} in {where}.", "M A L"),
        T("Pt made sexually inappropriate comments and touched {hca} inappropriately.", "A H M L"),
        T("Pt became abusive at reception over {gp_grievance}.", "G"),
        T("Crew assaulted by pt's {nok} at the address; police requested.", "P"),
        T("Pt barricaded themselves in {where} and refused to come out.", "M L"),
        T("Service user {ld_behaviour}.", "L"),
        T("Pt threatened staff with {weapon}.", "M A P"),
        T("Pt pulled out {line_item} and became aggressive when staff intervened.", "A H"),
        T("Pt with delirium struck out at {hca} during personal care.", "A H"),
        T("Pt set off the fire alarm deliberately and was verbally abusive to staff.", "M A"),
    ],
    "details": ["Pt known to be aggressive when intoxicated.", "Security attended.", "Police attended.",
                "Pt had been refused leave earlier.", "Pt was waiting for a long time.", "De-escalation attempted."],
    "out": {
        "no": ["No injuries to pt or staff.", "No harm to pt; staff shaken but unhurt.", "No physical harm to anyone.",
               "Pt settled after de-escalation, no harm.", "No injury sustained."],
        "low": ["Pt sustained a minor graze to {body} during restraint.", "Pt had bruising to wrists after restraint; checked by {doctor}.",
                "Pt cut hand on broken glass, cleaned and dressed."],
        "mod": ["Pt sustained a fractured wrist during restraint, required plaster and ortho follow-up."],
    },
    "actions": ["Security called.", "Police called.", "De-escalation techniques used.", "Rapid tranquillisation given per policy.",
                "Pt moved to side room.", "Post-incident debrief held with staff.", "Behaviour contract/letter issued.",
                "Staff offered occupational health support.", "Seclusion commenced and reviewed per policy.",
                "Risk assessment updated.", "Warning marker placed on the record."],
    "causes": ["Pt intoxicated.", "Long wait in ED.", "Pt acutely psychotic.", "Delirium.", "Unmet need - pt in pain.",
               "Smoking ban on site.", "Pt denied leave.", "Insufficient staff to manage 1:1.", "Environment noisy and overstimulating."],
}
G.update({
    "aggress_act": ["punched", "kicked", "slapped", "headbutted", "pushed", "scratched", "bit", "grabbed the arm of"],
    "aggress_act_ing": ["punching", "kicking", "assaulting", "attacking"],
    "target": ["the SN", "a HCA", "another pt", "security staff", "the Dr", "a student nurse", "the nurse in charge",
               "the paramedic"],
    "threat": ["kill staff", "smash the ward up", "find out where staff live", "self-discharge", "hurt the Dr"],
    "visitor_act": ["shouting at staff about visiting times", "threatening the nurse in charge",
                    "refusing to leave after visiting hours", "pushing a staff member"],
    "thrown": ["a chair", "a cup of hot tea", "a meal tray", "a water jug", "a urine bottle", "the TV remote"],
    "care_task": ["personal care", "medication round", "taking bloods", "obs"],
    "restraint": ["prone, 2 mins", "supine, 4 staff", "seated", "standing hold"],
    "rt_drug": ["lorazepam 2mg", "haloperidol 5mg and promethazine 50mg", "olanzapine 10mg"],
    "property": ["a window", "the TV", "the nurses' station computer", "bedroom door", "ward furniture"],
    "gp_grievance": ["appointment availability", "a repeat prescription", "a sick note", "waiting time"],
    "ld_behaviour": ["bit a support worker on the arm during a change in routine",
                     "became distressed on the minibus and hit a support worker",
                     "pulled a carer's hair during personal care"],
    "p2p_detail": ["pt punched in the face while watching TV.", "pt pushed to the floor in the corridor.",
                   "staff separated the pts and moved the aggressor to the quiet room.", "pt slapped after a dispute over the TV remote."],
    "weapon": ["a broken CD", "a pen", "a knife from the kitchen", "a bottle", "a fork"],
    "line_item": ["IV cannula", "NG tube", "catheter", "oxygen"],
})

SPECS[DOCS] = {
    "weight": 5, "harm": (91.3, 8, 0.62, 0, 0),
    "settings": {"A": 60, "H": 8, "M": 10, "C": 8, "G": 8, "P": 3, "L": 3},
    "events": [
        T("Pt's notes {notes_issue}."),
        T("Pt found with no ID band {time}.", "A H M"),
        T("ID band had the wrong {id_field}.", "A H"),
        T("Drug chart {chart_issue}.", "A H M L"),
        T("Allergy status not documented on the drug chart or EPR.", "A H M G"),
        T("DNACPR form not in the notes when pt deteriorated; {dnacpr_consequence}", "A H C"),
        T("Blood sample labelled with another pt's details (WBIT).", "A H"),
        T("Discharge summary {dc_summary_issue}.", "A H"),
        T("Clinic letter dictated but not typed for {delay_period}.", "A G"),
        T("Entries in the notes written retrospectively without time or date.", "A H M C"),
        T("Obs chart entries for two pts recorded on the same chart.", "A H"),
        T("Care plan not updated after {care_plan_event}.", "A H M C L"),
        T("Pt's records merged with another pt of the same name.", "A G"),
        T("Fluid balance chart totals incorrect for {n_days} days.", "A H"),
        T("Waterlow and falls risk assessments not completed on admission.", "A H"),
        T("PRF not left at hospital on handover.", "P"),
        T("Community notes not left in the pt's home after visit.", "C"),
        T("Repeat prescribing record does not match the hospital discharge letter.", "G"),
        T("Section papers found to contain an error after the pt was detained.", "M"),
        T("Pt's weight recorded as {wrong_weight} kg (actual weight {real_weight} kg).", "A H"),
        T("Consent form missing from notes on day of surgery.", "A.theatre"),
        T("Hospital passport not updated for {n_days} months.", "L"),
    ],
    "details": ["Identified during audit.", "Noticed at ward round.", "Picked up by pharmacy.", "Picked up by the receiving ward."],
    "out": GENERIC_OUT,
    "actions": ["Records corrected and annotated.", "Correct ID band applied.", "Sample discarded and repeated.",
                "Medical records department informed.", "Discharge summary amended and resent to GP.",
                "Staff reminded of documentation standards.", "Audit of ID bands arranged."],
    "causes": ["Printer for ID labels not working.", "Pre-printed labels from another pt in the notes.",
               "Pressure of work.", "EPR and paper records running in parallel.", "Handwriting illegible.",
               "No junior doctor on the ward that day.", "Agency staff without EPR access."],
}
G.update({
    "notes_issue": ["could not be found for the ward round", "were filed in another pt's folder", "were left on the bus",
                    "contained another pt's letters", "were missing the last 3 days of entries"],
    "id_field": ["date of birth", "hospital number", "NHS number", "surname spelling"],
    "chart_issue": ["missing for 6 hours", "rewritten without the allergy being transferred", "not signed for {n_days} days",
                    "found with two pts' medication on it"],
    "dnacpr_consequence": ["CPR commenced before the form was found.", "crew started resuscitation against the pt's wishes.",
                           "confusion over escalation plan."],
    "dc_summary_issue": ["not sent to GP", "listed the wrong medications", "not completed before discharge",
                         "omitted the plan for follow-up bloods"],
    "care_plan_event": ["a fall", "a change in mobility", "new pressure damage", "a change in diet (IDDSI level)",
                        "a safeguarding concern"],
    "wrong_weight": ["95", "110", "45", "150"],
    "real_weight": ["59", "61", "72", "48"],
})

SPECS[INFRA] = {
    "generic_details": False,
    "weight": 5, "harm": (89.8, 9.2, 0.81, 0.11, 0.06),
    "settings": {"A": 55, "M": 10, "C": 10, "P": 10, "G": 5, "H": 6, "L": 4},
    "events": [
        T("Ward staffed with {staff_n} RNs for {n_pts} pts on {shift}; {staff_impact}", "A H M"),
        T("No {equipment_short} available on the ward.", "A H"),
        T("Lift out of order; pt {lift_impact}.", "A"),
        T("Water leak from the ceiling in {where}; {leak_impact}", "A H M"),
        T("Heating failure; ward temperature {temp_low}C overnight.", "A H M"),
        T("{it_system} down for {n_hours} hours; {it_impact}"),
        T("Fire alarm activation - {fire_detail}.", "A H M"),
        T("Call bell system not working in {where}.", "A H"),
        T("No hot water in {where} for {n_days} days.", "A H M L"),
        T("Ligature point identified in {where}.", "M"),
        T("Door lock on the ward faulty; door left unsecured.", "M"),
        T("DN team short of {n_small} staff; {n_visits} visits deferred.", "C"),
        T("Rota gap: {n_small} crews short across the sector on nights; {rota_impact}", "P"),
        T("Power cut; backup generator {generator}.", "A H"),
        T("ED at OPEL 4 with {n_corridor} pts in the corridor.", "A.ed"),
        T("{pest} seen in {where}.", "A H M"),
        T("Air conditioning failure; ward temperature {temp_high}C.", "A H"),
        T("No medical cover on the ward overnight; {cover_impact}", "A H"),
        T("Building works noise and dust on the ward.", "A H"),
        T("Practice phone system down for {n_hours} hours; pts unable to book.", "G"),
        T("Vehicle broke down en route to a Cat 2 call.", "P"),
        T("Staffing shortfall: 1 staff member for {n_small} service users.", "L"),
    ],
    "details": ["Escalated to site manager.", "Estates informed.", "Staff redeployed from another ward.",
                "Issue has been reported several times before."],
    "out": GENERIC_OUT,
    "actions": ["Estates contacted.", "Staff redeployed.", "Bank/agency requested.", "Pts moved to another area.",
                "IT helpdesk ticket raised.", "Business continuity plan activated.", "Escalated to matron on call.",
                "Site safety huddle informed.", "Temporary signage put up."],
    "causes": ["Long-standing vacancies.", "Sickness not covered.", "Ageing estate.", "Planned maintenance overran.",
               "Supplier delay.", "Increased demand.", "No escalation beds available."],
}
G.update({
    "staff_n": ["2", "3", "4"],
    "shift": ["nights", "the late shift", "the early shift", "a weekend shift"],
    "staff_impact": ["obs and medication rounds delayed.", "unable to provide 1:1 for 2 pts at risk of falls.",
                     "no breaks taken.", "pressure area care delayed.", "pts not washed until the afternoon."],
    "equipment_short": ["hoist slings", "dynamic mattresses", "sats probes", "commodes", "bariatric equipment",
                        "working blood gas analysers", "pulse oximeters", "slide sheets"],
    "lift_impact": ["had to wait 2 hours to go to theatre", "transferred via a long route outside in the rain",
                    "missed their scan slot"],
    "leak_impact": ["bay closed and 4 pts moved.", "electrics isolated.", "floor wet, slip risk."],
    "temp_low": ["14", "15", "16"],
    "temp_high": ["29", "30", "31"],
    "it_system": ["EPR", "eObs", "ePMA", "Pathology results system", "PACS", "The CAD system"],
    "it_impact": ["paper downtime forms used.", "results not available.", "medication records unavailable.",
                  "dispatch done manually."],
    "fire_detail": ["pts evacuated horizontally", "caused by toast in the ward kitchen", "false alarm, no evacuation",
                    "caused by a pt smoking in the toilet"],
    "n_visits": ["12", "18", "25", "30"],
    "generator": ["did not start for 10 minutes", "started as expected", "failed to power some sockets"],
    "rota_impact": ["30 calls held in the stack at 02:00.", "HALO requested to release crews from ED.",
                    "Cat 3 and 4 calls passed to the clinical hub for ring-back."],
    "n_corridor": ["12", "15", "20", "24"],
    "pest": ["Mice", "Cockroaches", "Pigeons", "A rat"],
    "cover_impact": ["pts not reviewed until the morning.", "FY1 covering 4 wards."],
})

SPECS[DEVICE] = {
    "weight": 3, "harm": (82, 15.2, 2.1, 0.44, 0.25),
    "settings": {"A": 65, "H": 8, "C": 12, "P": 8, "L": 3, "M": 4},
    "events": [
        T("Infusion pump {pump_issue}.", "A H"),
        T("Syringe driver {sd_issue}.", "A H C"),
        T("Hoist {hoist_issue}.", "A H C L"),
        T("Bed rails {rail_issue}.", "A H C"),
        T("Hickman line {hickman_issue}.", "A C"),
        T("PICC line {picc_issue}.", "A C H"),
        T("Catheter {catheter_issue}.", "A H C"),
        T("Defibrillator {defib_issue}.", "A H M G P"),
        T("Suction {suction_issue}.", "A H"),
        T("Oxygen {o2_issue}.", "A H C P"),
        T("Glucometer {bm_issue}.", "A H C"),
        T("Pressure-relieving mattress {mattress_issue}.", "A H C"),
        T("Sats probe left on the same finger for {n_days} days causing pressure damage.", "A", "low mod"),
        T("NIV mask {niv_issue}.", "A.ward A.itu", "low mod"),
        T("Ventilator {vent_issue}.", "A.itu"),
        T("{device_cap} found to be {device_state}.", "A H"),
        T("Stretcher {stretcher_issue}.", "P"),
        T("Vehicle monitor/defib failed its daily check; {vehicle_impact}", "P"),
        T("Pt's {pt_device} {pt_device_issue}.", "C L"),
        T("Feeding pump {feed_issue}.", "A H C L"),
        T("BP machine gave erroneous readings; {bp_impact}", "A H G"),
        T("ECG machine {ecg_issue}.", "A G P"),
    ],
    "details": ["Device taken out of use and labelled.", "Device was within its service date.",
                "Same fault reported last month.", "Serial number recorded.", "Device borrowed from another ward."],
    "out": GENERIC_OUT,
    "actions": ["Device quarantined and sent to EBME.", "Replacement device obtained.", "Reported to the manufacturer.",
                "MHRA Yellow Card report submitted.", "Medical devices safety officer informed.",
                "All similar devices on the ward checked.", "Staff reminded to check equipment before use."],
    "causes": ["Device fault.", "User error - staff not trained on this model.", "Device overdue servicing.",
               "Wrong consumable used with the device.", "Equipment library out of stock.",
               "Staff not familiar with the device."],
}
G.update({
    "pump_issue": ["alarmed occlusion repeatedly and infusion was delayed", "displayed an error code and stopped",
                   "free-flowed when the door was opened", "drug library not updated", "door latch broken",
                   "alarm volume found turned to minimum", "delivered fluid faster than the programmed rate"],
    "sd_issue": ["found to have stopped with a 'pump paused too long' alarm", "screen blank on arrival for check",
                 "lock box key missing", "line disconnected from the pt, medication leaking into the bed"],
    "hoist_issue": ["sling clip detached during transfer", "failed to lower pt; pt suspended for 10 minutes",
                    "overdue LOLER service", "battery flat, unable to transfer pt from the floor"],
    "rail_issue": ["used without bumpers; pt's leg trapped", "broken catch, rail fell down", "incompatible with the mattress, gap found"],
    "hickman_issue": ["cuff exposed and line found partially pulled out", "blocked, unable to flush or aspirate",
                      "clamp broken, bleeding from line", "split near the hub"],
    "picc_issue": ["fractured on removal", "migrated 5cm out", "found occluded at DN visit", "dressing not changed for 2 weeks"],
    "catheter_issue": ["valve failed, leaking", "bag split", "balloon failed to deflate", "drainage bag not compatible with the catheter"],
    "defib_issue": ["pads out of date on the crash trolley", "failed its daily check, not reported", "battery flat at a cardiac arrest",
                    "missing from the trolley"],
    "suction_issue": ["not working at the bedside when pt vomited", "tubing missing", "unit not set up in the bedspace"],
    "o2_issue": ["cylinder empty on transfer", "concentrator failed at the pt's home", "flowmeter broken",
                 "cylinder found unsecured in the bay"],
    "bm_issue": ["gave a reading 8 mmol/L lower than the lab result", "not quality controlled for 2 weeks", "test strips out of date"],
    "mattress_issue": ["found deflated under the pt", "pump alarming and switched off", "wrong setting for pt's weight"],
    "niv_issue": ["too small, caused pressure damage to the bridge of the nose", "circuit not compatible with the machine"],
    "vent_issue": ["failed self-test", "alarmed with a technical fault mid-shift and was swapped", "humidifier not connected"],
    "device": ["the crash trolley", "the blood fridge", "the sharps bin", "the ward resuscitation bag", "a drip stand"],
    "device_state": ["unchecked for 9 days", "broken and not reported", "missing key items", "past its service date"],
    "stretcher_issue": ["failed to lock into the vehicle", "hydraulics failed during loading", "strap broke"],
    "vehicle_impact": ["vehicle taken off road.", "spare collected from station."],
    "pt_device": ["hearing aid", "wheelchair", "profiling bed", "pressure cushion", "epilepsy monitor", "VAC pump"],
    "pt_device_issue": ["not working for a week", "broken and awaiting repair", "alarm not audible to carers",
                        "supplied in the wrong size"],
    "feed_issue": ["ran the feed at 10x the prescribed rate", "set to the wrong total volume", "giving set not compatible"],
    "bp_impact": ["BP of 180 not confirmed manually.", "pt given antihypertensive based on the faulty reading."],
    "ecg_issue": ["printed the wrong pt's details", "would not transmit", "leads damaged"],
})

SPECS[INFECT] = {
    "weight": 2, "harm": (73.6, 19.6, 4.7, 0.77, 1.3),
    "settings": {"A": 82, "H": 8, "C": 6, "M": 2, "L": 2},
    "events": [
        T("Pt with {organism} {ic_issue}.", "A H"),
        T("{organism_cap} outbreak on {ward_short}: {n_cases} pts affected; bay closed to admissions.", "A H M"),
        T("Needlestick injury to {nurse} from a used needle left in {sharps_place}.", "A H C G", "no"),
        T("Cannula in situ for {cannula_days} days; phlebitis score {vip}.", "A H", "low mod"),
        T("Commode labelled as clean found soiled.", "A H"),
        T("Pt's COVID-19 result positive but not communicated; pt moved to an open bay.", "A"),
        T("Surgical site infection following {procedure}.", "A", "low mod sev death"),
        T("MRSA screen not done on admission.", "A H"),
        T("Line infection - Hickman line exit site red and exuding, blood cultures grew {organism}.", "A C", "low mod sev death"),
        T("Pt with diarrhoea not isolated for {n_hours} hours; stool sample not sent.", "A H"),
        T("Pt's PICC line dressing found soiled and lifted.", "C A"),
        T("Sharps bin overfilled in {where}.", "A H C"),
        T("Pt with {organism} transferred to care home without infection status being handed over.", "A H"),
        T("Flu-positive pt placed in a bay with {n_small} other pts.", "A"),
        T("Uncleaned equipment moved between pts in {where}.", "A H"),
    ],
    "details": ["IPC team informed.", "Side rooms all occupied at the time.", "Hand hygiene audit score was low this month."],
    "out": {
        "no": GENERIC_OUT["no"] + ["No transmission identified, no harm.", "Pt remained well."],
        "low": ["Pt developed diarrhoea, treated with oral fluids.", "Phlebitis, cannula removed and warm compress applied.",
                "Pt developed a mild wound infection treated with oral antibiotics."],
        "mod": ["Pt developed C. diff infection requiring IV treatment and extended stay.",
                "Pt developed line sepsis and required IV antibiotics and line removal.",
                "Wound infection required return to theatre for washout."],
        "sev": ["Pt developed osteomyelitis requiring long-term treatment and lasting disability."],
        "death": ["Pt developed C. diff colitis and died {death_when}.", "Pt died of sepsis {death_when}."],
    },
    "actions": ["IPC team informed.", "Pt isolated in a side room.", "Stool sample sent.", "Enhanced cleaning requested.",
                "Cannula removed and re-sited.", "Occupational health contacted for needlestick.",
                "Contacts screened.", "Outbreak meeting held."],
    "causes": ["No side rooms available.", "Results not checked.", "Cleaning schedule not followed.",
               "Staff unaware of pt's infection status.", "Cannula not VIP scored."],
}
G.update({
    "organism": ["C. diff", "MRSA", "norovirus", "CPE", "influenza A", "COVID-19", "VRE", "E. coli", "MSSA"],
    "ic_issue": ["not isolated for {n_hours} hours", "placed in an open bay", "moved wards without IPC advice",
                 "nursed in a side room with the door propped open"],
    "n_cases": ["4", "6", "8", "11"],
    "sharps_place": ["the bed", "a dressing trolley", "a sharps tray", "the linen"],
    "cannula_days": ["5", "6", "7", "9"],
    "vip": ["2", "3", "4"],
})

SPECS[ABUSE] = {
    "weight": 1, "harm": (66.8, 27.6, 4.8, 0.79, 0),
    "settings": {"A": 28, "M": 27, "L": 20, "C": 20, "G": 5},
    "events": [
        T("Pt disclosed that {abuser} {abuse_act}."),
        T("Bruising of unknown origin noted to {body}; {abuse_context}.", None, "low mod"),
        T("Pt alleged that a member of staff {staff_abuse}.", "A H M L"),
        T("Staff member observed {staff_abuse_seen} pt.", "A H M L"),
        T("Concerns regarding financial abuse - {financial}.", "C L G"),
        T("Pt found at home {neglect}.", "C G"),
        T("Pt's {nok} reported that pt had been {care_home_abuse} at the care home.", "A G C"),
        T("Service user disclosed {ld_abuse}.", "L"),
        T("Pt disclosed domestic abuse by {dv_perp} during assessment.", "A G C M P"),
    ],
    "details": ["Safeguarding referral made.", "Pt has capacity and consented to the referral.",
                "Pt lacks capacity in relation to this decision.", "Police informed."],
    "out": {
        "no": ["No physical injury noted.", "No harm identified on examination.", "Pt not physically harmed."],
        "low": ["Bruising to {body} documented with body map.", "Minor scratches to {body}, cleaned.",
                "Pt distressed but settled with support; minor bruising."],
        "mod": ["Pt sustained a fractured {bone_mod} requiring treatment.", "Pt required admission for neglect-related dehydration and pressure damage."],
        "sev": ["Pt left with long-term psychological harm and loss of independence."],
    },
    "actions": ["Safeguarding referral made.", "Police informed.", "Staff member suspended pending investigation.",
                "Body map completed.", "Pt moved to another area.", "LADO informed.", "Adult social care informed."],
    "causes": ["Unknown.", "Staff burnout and poor supervision.",
               "Lack of visibility of pts in side rooms."],
}
G.update({
    "abuser": ["her son", "his carer", "a family member", "her partner", "a neighbour", "a paid carer"],
    "abuse_act": ["had been hitting her", "had taken money from his account", "had been locking him in his room",
                  "had pushed her over", "had sexually assaulted her"],
    "abuse_context": ["pt unable to explain how it happened", "finger-tip pattern noted", "pt became distressed when asked",
                      "no falls documented"],
    "staff_abuse": ["was rough during personal care", "shouted at them overnight", "withheld their call bell",
                    "made derogatory comments", "slapped their hand"],
    "staff_abuse_seen": ["a bank HCA speaking aggressively to", "a staff member pulling roughly on the arm of",
                         "a colleague mocking"],
    "financial": ["pt's bank card being used by a carer", "family member withdrawing pt's pension",
                  "pt pressured to sign over property"],
    "neglect": ["in soiled bedding with no food in the house", "unkempt with untreated pressure damage",
                "cold, no heating on, carer had not visited for 3 days"],
    "care_home_abuse": ["left in soiled pads for long periods", "shouted at by staff", "not given meals",
                        "restrained in a chair"],
    "ld_abuse": ["that a visitor to the house touched them inappropriately", "that a support worker took their money",
                 "being bullied at the day centre"],
    "dv_perp": ["partner", "ex-partner", "son", "husband"],
})

SPECS[SELFHARM] = {
    "weight": 3, "harm": (41.3, 45, 8.6, 2.1, 2.9),
    "settings": {"M": 65, "A": 20, "L": 6, "C": 4, "P": 5},
    "events": [
        T("Pt found {sh_act_harm} in {where} {time}.", None, "low mod sev death"),
        T("Pt found {sh_act_any} in {where} {time}."),
        T("Pt disclosed taking an overdose of {od_drug} x{n_tabs} tablets {od_when}."),
        T("Pt attempted to tie a ligature using {ligature_item} in {where}.", "M A L"),
        T("Pt self-harmed by {cut_act} using {sh_item}; item obtained from {item_source}.", "M A L", "low mod sev death"),
        T("Pt absconded and was found on {high_place} by police; returned to the ward.", "M"),
        T("Pt head-banging against {surface}.", "M L"),
        T("Pt swallowed {swallowed}.", "M A L", "no low mod sev"),
        T("Pt on level {mh_level} obs {sh_act_past} during a gap in observations.", "M", "low mod sev death"),
        T("Pt admitted post overdose; while on the ward pt {sh_act_past}.", "A", "low mod sev death"),
        T("CMHT pt reported recent self-harm by {cut_act} during a phone call.", "M.community", "low mod"),
        T("Pt found with a ligature around their neck {time} in {where}.", "M A"),
        T("Crew called to pt who had {sh_act_past} at home.", "P", "low mod sev death"),
        T("Pt returned from leave with {contraband} hidden in their bag and used it to self-harm.", "M", "low mod sev death"),
        T("{contraband_cap} found hidden in pt's bag on return from leave; pt disclosed plans to self-harm.", "M", "no"),
    ],
    "details": ["Pt has a history of self-harm.", "Pt had been settled earlier in the day.",
                "Pt had received distressing news that afternoon.", "Room search had been completed that morning.",
                "Pt was on anti-ligature bedding."],
    "out": {
        "no": ["Pt prevented from self-harming; no injury.", "Ligature removed immediately, no marks, no harm.",
               "Pt checked - no injury sustained.", "Item removed before use; no harm."],
        "low": ["Superficial lacerations to {sh_site}, cleaned and steristripped.", "Minor ligature mark to neck, obs stable.",
                "Superficial scratches to {sh_site}; first aid given.", "Paracetamol level below treatment line; monitored only."],
        "mod": ["Lacerations to {sh_site} required suturing in ED.",
                "Paracetamol level above treatment line - NAC infusion commenced, admitted to the medical ward.",
                "Deep wound to {sh_site} requiring plastic surgery repair.",
                "pt required ITU admission following the overdose, now stepped down."],
        "sev": ["Pt sustained hypoxic brain injury following ligature; long-term care required.",
                "Tendon damage to {sh_site} with permanent loss of function.",
                "Overdose resulted in liver failure; pt listed for transplant."],
        "death": ["Pt found unresponsive; CPR commenced but pt was pronounced dead by paramedics.", "Pt died {death_when}.",
                  "Despite resuscitation attempts pt passed away."],
    },
    "actions": ["Obs increased to level {mh_level}.", "Room searched and items removed.", "Wounds dressed.",
                "Transferred to ED.", "Paracetamol levels taken.", "Risk assessment updated.", "Safety plan reviewed with pt.",
                "Ligature cutter used.", "Police informed of missing pt."],
    "causes": ["Gap in observations due to staffing.", "Item not identified on room search.", "Visitor brought in item.",
               "Ligature point in the bathroom.", "Pt's mental state deteriorated after leave.", "Observation level too low for risk."],
}
G.update({
    "sh_act_harm": ["cutting {sh_site} with a razor blade", "scratching {sh_site} until bleeding",
                    "burning {sh_site} with a lighter"],
    "sh_act_any": ["with a ligature around their neck", "banging their head against the wall",
                   "with a plastic bag over their head", "standing on the bed trying to tie a ligature to the window"],
    "sh_act_past": ["cut {sh_site} with a broken mug", "tied a ligature", "took an overdose of stockpiled tablets",
                    "scratched {sh_site}", "inserted an object into a wound"],
    "sh_site": ["L forearm", "R forearm", "both wrists", "thighs", "abdomen", "neck"],
    "od_drug": ["paracetamol", "sertraline", "quetiapine", "co-codamol", "ibuprofen", "amitriptyline", "mirtazapine"],
    "n_tabs": ["16", "24", "32", "40", "50"],
    "od_when": ["last night", "4 hours ago", "earlier today", "over the past 2 days (staggered)"],
    "ligature_item": ["a shoelace", "a torn sheet", "a phone charger cable", "a dressing gown cord", "a towel"],
    "cut_act": ["cutting", "scratching", "stabbing", "burning"],
    "sh_item": ["a razor blade", "broken glass", "a plastic knife", "a pen lid", "a lighter"],
    "item_source": ["a visitor", "the ward kitchen", "leave", "another pt", "a hidden stash in the room"],
    "high_place": ["a motorway bridge", "the multi-storey car park", "the railway bridge"],
    "surface": ["the wall", "the floor", "the door"],
    "swallowed": ["batteries", "a pen lid", "razor blades", "screws from the bed"],
    "contraband": ["a razor", "tablets", "a lighter", "a blade"],
})

SPECS[OTHER] = {
    "generic_details": False,
    "weight": 2, "harm": (89.9, 8.8, 1.2, 0, 0),
    "settings": {"A": 60, "M": 12, "C": 8, "H": 8, "P": 6, "G": 6},
    "events": [
        T("Pt's {property_item} lost {property_when}."),
        T("Pt's valuables not logged on admission; pt reports £{money} missing.", "A H M"),
        T("Food brought in by a visitor {food_issue}.", "A H M"),
        T("Pt's belongings sent home with another pt.", "A H"),
        T("Pt filmed staff on a mobile phone and posted on social media.", "A M"),
        T("Pt smoking in the toilets.", "A M H"),
        T("Pt's pet left unattended at home after emergency admission.", "A P"),
        T("Visitor fell in the car park.", "A G H", "no"),
        T("Pt's relative brought in alcohol.", "A M H"),
        T("Pt's hearing aids thrown away with the bed linen.", "A H"),
        T("Pt received the wrong meal tray.", "A H"),
        T("Pt's dentures lost on transfer from {ward2}.", "A H"),
        T("Staff member injured back moving equipment.", "A H C", "no"),
        T("Unknown person found sleeping in the ward day room.", "A H", "no"),
    ],
    "details": ["Security informed.", "Property book checked.", "Complaint received from family."],
    "out": {
        "no": ["No harm to pt.", "No harm caused.", "No clinical harm."],
        "low": ["Pt distressed, reassured; no lasting harm.", "Pt unable to eat for a day without dentures; soft diet given."],
        "mod": ["Pt aspirated food brought in by visitor, developed chest infection requiring IV antibiotics."],
    },
    "actions": ["Search carried out.", "Complaints team informed.", "Property disclaimer signed.",
                "Security informed.", "Replacement arranged."],
    "causes": ["Property procedure not followed.", "Multiple ward moves.", "Visitors not aware of policy."],
}
G.update({
    "property_item": ["dentures", "hearing aids", "glasses", "mobile phone", "wedding ring", "wallet", "walking stick"],
    "property_when": ["during transfer", "on the ward", "in ED", "while in theatre", "in the laundry"],
    "money": ["20", "50", "80", "150"],
    "food_issue": ["was not compatible with the pt's modified diet", "contained nuts despite pt's allergy",
                   "was given to a NBM pt"],
})

# ---------------------------------------------------------------------------
# Emerging theme (2026-09-01 .. 2026-10-31 only): the newly introduced
# "VitaFlow 3" volumetric pump silently stops infusing after a battery swap.
# Worded many ways so a detector has to cluster meaning, not one template.
# ---------------------------------------------------------------------------

THEME = {
    "harm": (52, 36, 10, 2, 0),
    "settings": {"A": 88, "H": 12},
    "categories": {DEVICE: 70, MEDS: 30},
    "events": {
        DEVICE: [
            T("{theme_drug_cap} running via {theme_pump} {theme_batt}. Pump {theme_silent}. Noted {theme_gap} later when {theme_noticed}."),
            T("{theme_pump_cap} {theme_silent} {theme_batt}; {theme_drug} not delivered for {theme_gap}. {theme_update}"),
            T("{theme_drug_cap} found not to have progressed - volume infused unchanged for {theme_gap}. Battery had been "
              "changed at {clock} when the pump showed low battery. No alarm from the {theme_pump}."),
            T("During transfer to {transfer_dest} the {theme_pump} battery was swapped. On return to {ward_short} the screen "
              "showed running but nothing had infused. No alarm."),
            T("Second occasion this week that a {theme_pump} has stopped without alarming after a battery replacement. "
              "{theme_drug_cap} interrupted for {theme_gap}."),
            T("Pump fault - {theme_pump}. {theme_silent_cap} {theme_batt}. Pump taken out of use and sent to EBME."),
            T("Recurring problem with the {theme_pump} on {ward_short}: infusions stop after a battery swap with no alarm. "
              "This time {theme_drug} was interrupted for {theme_gap}."),
            T("Pump changed over to the new VitaFlow 3 last week. Today, after the battery was replaced, the {theme_drug} "
              "infusion stopped and the pump did not alarm. {theme_update}"),
            T("VitaFlow 3 stopped after battery change, no alarm. {theme_drug_cap} missed for {theme_gap}."),
            T("{theme_pump_cap} {theme_batt} - pump {theme_silent}. {theme_update} Other pumps on the ward being checked."),
        ],
        MEDS: [
            T("{theme_drug_cap} not delivered for {theme_gap} because the {theme_pump} paused silently {theme_batt}."),
            T("Delayed {theme_drug} - pump (VitaFlow 3) not running after a battery change, no alarm. Dose effectively omitted for {theme_gap}."),
            T("Pt on {theme_drug} via {theme_pump}. {time_cap} low battery alert so battery changed by {nurse}. Pump restarted "
              "and appeared to be running. At {clock2} bag volume unchanged - pump had paused itself with no audible or visual alarm."),
            T("Omitted dose: {theme_drug} through {theme_pump} {theme_silent} {theme_batt}. {theme_update}"),
            T("{theme_drug_cap} infusion interrupted ({theme_gap}) - {theme_pump} showed 'infusing' after the battery was swapped "
              "but VTBI had not changed."),
        ],
    },
    "out": {
        "no": ["Restarted, no harm to pt.", "Obs stable throughout, no harm.", "Identified quickly, no harm caused.",
               "No harm - infusion restarted on another pump."],
        "low": ["BM rose to {bm_high} mmol/L, corrected with extra insulin; no lasting harm.",
                "BP dropped to {bp_low}, responded when the infusion was restarted; extra obs overnight.",
                "Pt required extra bloods and monitoring, recovered.", "APTT subtherapeutic, heparin rate adjusted and monitored."],
        "mod": ["Pt developed DKA (ketones {ketones}) requiring HDU admission.",
                "MAP dropped to 48, pt required fluid boluses and critical care outreach review; stay extended.",
                "Pt went into fast AF requiring further treatment and extended monitoring on CCU."],
        "sev": ["Pt had a peri-arrest and has been left with a hypoxic brain injury."],
    },
    "actions": ["Pump quarantined and sent to EBME.", "Infusion restarted on an alternative pump.",
                "Reported to the manufacturer and via MHRA Yellow Card.", "Escalated to matron and the medical devices safety officer.",
                "Staff asked to check volume infused hourly after any battery change.", "Other VitaFlow 3 pumps on the ward checked.",
                "{doctor_cap} informed.", "Obs increased."],
    "causes": ["Possible software fault since the recent update.", "Unclear - pump gave no alarm.",
               "Battery swap done as per training.", "New pumps introduced with limited training.",
               "Pump gives no warning that it has paused after a battery change."],
}
G.update({
    "theme_pump": ["VitaFlow 3", "VitaFlow 3 volumetric pump", "new VitaFlow 3 pump", "Vitaflow 3", "VF3 pump",
                   "VitaFlow3 infusion pump", "VitaFlow 3 pump"],
    "theme_batt": ["after the battery was swapped", "following a battery change", "after the battery pack was replaced",
                   "once the battery had been changed", "after swapping to a charged battery",
                   "after the battery was changed during transfer to {transfer_dest}"],
    "theme_silent": ["stopped infusing with no alarm", "paused silently", "went into standby without alarming",
                     "stopped running - no alarm sounded", "displayed 'infusing' but was not delivering",
                     "stopped with no occlusion or other alarm", "showed the green running light but the volume infused had not changed"],
    "theme_drug": ["insulin (VRIII)", "heparin infusion", "noradrenaline", "IV fluids (Hartmann's)", "amiodarone infusion",
                   "TPN", "vancomycin infusion", "potassium chloride 40mmol in 1L", "IV paracetamol",
                   "Plasma-Lyte maintenance fluids", "magnesium sulfate infusion", "aminophylline", "IV omeprazole infusion"],
    "theme_gap": ["approx 40 mins", "over an hour", "about 2 hours", "3 hours", "90 minutes",
                  "the whole of the night shift (~5 hrs)", "at least 4 hours"],
    "theme_noticed": ["the bag was still full", "BMs started rising", "doing the hourly check", "pt's BP dropped",
                      "the next bag was due", "handing over to the day staff"],
    "theme_update": ["Pumps had a software update ({theme_ver}) last month.",
                     "EBME say the pumps were updated to software {theme_ver} in August.",
                     "This pump was updated to firmware {theme_ver} recently.",
                     "I understand all VitaFlow pumps on site had a software update in late August.", ""],
    "theme_ver": ["v4.2.1", "4.2.1", "v4.2"],
    "ketones": ["3.4", "4.1", "5.2"],
})

FALL = r"fall|fell|floor|slid|slipped|tripped|lowered|legs gave|rolled out|kneeling|climbed|collapsed"
SELF_HARM_CUT = r"cut|scratch|stab|burn|self-harmed|lacerat"
WARD = "A H M"

# Details, actions and causes that only make sense for some events:
# text -> (regex the event text must match, or None; settings / location groups it needs, or None).
FITS = {
    # generic
    "Ward was very busy at the time with {busy_reason}.": (None, WARD),
    "{doctor_cap} reviewed pt at {clock2}.": (None, WARD),
    "Discussed with nurse in charge.": (None, WARD),
    "Pt was {mobility_status} at the time.": (FALL + r"|transfer|hoist|pressure", "A H C L"),
    "Pt {pt_state} at the time.": (None, "A H M L"),
    "Obs at the time: {obs_set}.": (None, "A H"),
    "Escalated to nurse in charge.": (None, WARD),
    "Ward manager made aware.": (None, WARD),
    "Obs increased to {obs_freq}.": (None, "A H"),
    "Care plan updated.": (None, "A H M C L"),
    "Pt lacks capacity; {nok} made aware.": (None, "A H C L M"),
    "This is the {nth} similar incident this month.": (None, None),
    "Short staffed - {staff_gap}.": (None, "A H M"),
    "Night shift, only one RN on the bay.": (None, "A H"),
    "High acuity on the ward at the time.": (None, WARD),
    "Bank staff not orientated to the ward.": (None, WARD),
    # patient accident
    "Call bell was out of reach.": (FALL, "A H"),
    "Pt was not wearing footwear.": (FALL, None),
    "Pt was wearing non-slip socks.": (FALL, "A H"),
    "Bed was at lowest height with crash mat in place.": (FALL, "A H"),
    "Pt had been assessed as high falls risk on admission.": (FALL, "A H M"),
    "Pt has a history of falls at home.": (FALL, None),
    "Pt confused and pulling at cannula prior to the fall.": (FALL, "A H"),
    "Pt had had {sedative} earlier in the evening.": (FALL + r"|chok", WARD),
    "Lying and standing BP showed a postural drop of {postural}.": (FALL, "A H"),
    "Falls sensor alarm did not sound.": (FALL, "A H L"),
    "Pt on anticoagulation ({anticoag}).": (FALL, None),
    "Pt {pt_state} before the fall.": (FALL, None),
    "{obs_type_cap} obs had been stopped earlier that day.": (FALL, "A H"),
    "Neuro obs commenced.": (FALL, None),
    "Pt assisted from floor using {lift_aid}.": (FALL, None),
    "Falls risk assessment updated.": (FALL, None),
    "Bed lowered and crash mat placed.": (FALL, "A H"),
    "Call bell placed within reach.": (FALL, "A H"),
    "Enhanced obs (bay watch) commenced.": (FALL, "A H"),
    "Sensor alarm requested.": (FALL, "A H C L"),
    "Lying and standing BP requested.": (FALL, "A H"),
    "Medication review requested re {sedative}.": (FALL, None),
    "Physio referral made.": (FALL, None),
    "Post-falls protocol followed.": (FALL, "A H M"),
    "X-ray requested.": (FALL + r"|trap", "A H"),
    "Non-slip socks provided.": (FALL, None),
    "Hoisted back to bed.": (FALL, "A H C L"),
    "Pt moved closer to nurses' station.": (FALL, "A H"),
    "Pt confused/delirious, not using call bell.": (FALL, "A H"),
    "Pt high falls risk, enhanced obs not possible due to staffing.": (FALL, "A H"),
    "Only 1 HCA for 12 pts on night shift.": (FALL, "A H"),
    "Wet floor, no signage.": (r"slip|wet|spilt|urine", None),
    "Pt impulsive, did not wait for assistance.": (FALL, None),
    "Postural hypotension.": (FALL, None),
    "Pt on {sedative}.": (FALL, None),
    "Poor footwear.": (FALL, None),
    "Bay not visible from nurses' station.": (FALL, "A H"),
    "Bed rails assessment not completed.": (r"bed rails|rolled|climbed|trapped", None),
    "Walking frame left out of reach.": (FALL, "A H"),
    "Sensor mat not switched on.": (FALL, "A H"),
    "Pt had a UTI, increased confusion.": (FALL, None),
    "Poor lighting in bathroom.": (FALL, None),
    "Hoist sling incorrect size.": (r"transfer|hoist", None),
    "Pt moved bays overnight and was disorientated.": (FALL, "A H"),
    # implementation of care
    "eObs showed obs overdue at the time.": (r"obs|NEWS|deteriorat", "A H"),
    "Bay had 8 pts with one RN.": (None, "A H"),
    "Pt was on the outlier list.": (None, "A"),
    "Pt had been declining checks at times.": (r"pressure|BM|obs|weight|reposition", None),
    "Sepsis 6 commenced.": (r"sepsis|NEWS|MEWS|PEWS|deteriorat", "A H"),
    "Repositioning chart reinstated {turn_freq}.": (r"pressure|reposition", None),
    "Air mattress ordered.": (r"pressure|reposition", None),
    "Referral to TVN.": (r"pressure|reposition|wound|ulcer", None),
    "Fluid balance chart commenced.": (r"fluid|NBM|urine|AKI|catheter", "A H"),
    "Handover sheet updated.": (None, WARD),
    "Staff reminded of obs policy.": (r"obs|NEWS|MEWS|PEWS", "A H M"),
    "Dietitian referral.": (r"MUST|food|weight|NBM", None),
    "Bloods repeated.": (r"blood|result|K\+|Na|Hb|INR|CRP|troponin|lactate|glucose|monitoring", None),
    "Critical care outreach called.": (r"NEWS|deteriorat|sepsis", "A"),
    "Photos taken of wound.": (r"pressure|wound|ulcer", None),
    "Visit rescheduled for same day.": (None, "C"),
    "Ward staffed with 4 RNs instead of 6.": (None, "A H M"),
    "eObs device not synced so overdue obs not visible.": (r"obs|NEWS", "A H"),
    "Handover did not include {handover_gap}.": (None, WARD),
    "Agency staff unfamiliar with escalation process.": (r"obs|NEWS|MEWS|PEWS|escalat|deteriorat", None),
    "Result not flagged on the system.": (r"result|blood|monitoring", None),
    "Pt declined repositioning at times - not documented.": (r"pressure|reposition", None),
    "No dynamic mattress available in the hospital.": (r"pressure|reposition", "A H"),
    "Caseload exceeded capacity; visits prioritised.": (None, "C"),
    "Pt moved wards x3 in 24 hours.": (None, "A H"),
    "Outreach team covering two sites.": (r"NEWS|deteriorat|sepsis", "A"),
    # medication
    "Drug round interrupted multiple times.": (None, "A H M L"),
    "Two pts with similar names on the bay.": (r"wrong pt|similar name|ID band", "A H M"),
    "Drug chart was the old paper chart; pt moved to ePMA mid-admission.": (None, "A H"),
    "Second checker not available as only one RN on shift.": (r"CD|insulin|IV|infusion|syringe|gentamicin|heparin|morphine|oxycodone", "A H"),
    "Pharmacy closed at the time.": (None, "A H"),
    "Prescription was on a supplementary chart.": (None, "A H"),
    "Pt's own drugs used.": (None, "A H M"),
    "Dose withheld and levels checked.": (r"gentamicin|vancomycin|lithium|digoxin|warfarin|INR|level|apixaban|enoxaparin", None),
    "Naloxone available at bedside.": (r"morphine|oxycodone|Oramorph|fentanyl|PCA|buprenorphine|diamorphine|codeine|tramadol|opioid", "A H"),
    "BM monitoring increased to hourly.": (r"insulin|BM|Novorapid|Lantus|Humulin|Levemir|Humalog|Tresiba|Trurapi|VRIII", "A H"),
    "Drug chart rewritten.": (None, "A H M"),
    "Medication reconciled with GP records.": (r"discharge|TTO|GP|repeat|home|blister|dosette", None),
    "CD register corrected and witnessed.": (r"CD ", "A H M"),
    "Insulin prescribed as 'u' misread.": (r"insulin|units|Novorapid|Lantus|Humulin|Levemir|Humalog|Tresiba|Trurapi", None),
    "Pump programmed incorrectly; no drug library in use.": (r"pump|infusion|rate", None),
    "Syringe driver not checked at the 4-hourly check.": (r"syringe driver", None),
    "New to ward - not familiar with CD procedure.": (r"CD ", None),
    "Transcribing error from discharge letter.": (r"discharge|GP|repeat|TTO", None),
    "Two pts with the same surname in one bay.": (r"wrong pt|similar name|ID band", "A H"),
    "Pharmacy stock not available.": (r"omitted|not available|not supplied|stock|running out", None),
    "Prescription unclear - abbreviation used.": (None, "A H M G"),
    "ePMA alert overridden.": (None, "A H"),
    # treatment, procedure
    "List overran and was running late.": (None, "A.theatre"),
    "Consultant not present, registrar operating.": (None, "A.theatre"),
    "Theatre team had changed mid-list.": (None, "A.theatre"),
    "Pt had been consented in clinic 3 months earlier.": (None, "A.theatre"),
    "Procedure was out of hours.": (None, "A"),
    "Equipment tray was incomplete.": (None, "A.theatre"),
    "Return to theatre arranged.": (r"retained|count incorrect", "A.theatre"),
    "Imaging performed to confirm.": (r"retained|count|NG|drain|line|PICC|tube", "A"),
    "Procedure re-listed.": (r"cancel", "A"),
    "Surgical safety checklist audit requested.": (None, "A.theatre"),
    "Specimen sent to histology.": (r"excision|lesion|biopsy|hysteroscopy|colonoscopy", None),
    "Pt reviewed by surgical registrar.": (None, "A"),
    "Site marking not done.": (r"wrong", "A.theatre"),
    "Checklist done as a tick-box exercise.": (None, "A.theatre"),
    "Time pressure on the list.": (None, "A.theatre"),
    "Consent taken by a junior not familiar with the procedure.": (None, "A.theatre"),
    "Similar named pts on the list.": (r"wrong|listed", "A.theatre"),
    # access, admission, transfer, discharge
    "Hospital on OPEL 4 at the time.": (None, "A P"),
    "Bed manager aware.": (None, "A"),
    "Site was in internal critical incident.": (None, "A P"),
    "Pt was medically optimised for {n_days} days awaiting a package of care.": (r"discharg|care home|readmit", "A H"),
    "Discharge was nurse-led.": (r"discharg", "A H"),
    "Pt's {nok} had not been told about the discharge.": (r"discharg", "A H"),
    "Police informed and missing person procedure followed.": (r"left|abscond|failed to return", None),
    "Pt contacted by phone.": (r"discharg|sent home|referral|readmit|caseload", None),
    "Pt recalled to ED.": (r"sent home|discharg", "A"),
    "Bed manager escalated.": (None, "A"),
    "Discharge checklist completed retrospectively.": (r"discharg", "A H"),
    "Pt returned to ward and obs checked.": (r"left|abscond|found|failed to return", "A H M"),
    "Transfer documentation audited.": (r"transfer|arrived", "A H"),
    "Community team informed.": (r"discharg|caseload|referral", None),
    "Bed pressures / flow.": (None, "A P"),
    "Out of hours discharge to create capacity.": (r"discharg", "A H"),
    "No discharge checklist in use.": (r"discharg", "A H"),
    "Pt absconding risk not identified.": (r"left|abscond|failed to return", None),
    "Ward door left open / no swipe access.": (r"left|abscond|dementia", "A H M"),
    "Ambulance queuing at ED.": (r"ambulance|ED", "P A.ed"),
    "Referral sent to wrong team inbox.": (r"referral", None),
    "Poor communication with care home.": (r"care home", None),
    "Package of care not confirmed before discharge.": (r"discharg", "A H"),
    # clinical assessment
    "Pt had attended twice before with similar symptoms.": (None, "A.ed G P A.paeds"),
    "Triage nurse was covering two areas.": (r"triag", "A.ed"),
    "The result was on the system but not flagged as abnormal.": (r"result|report|ECG|histolog|Na |sodium|blood", None),
    "The radiology report was issued {n_days} days after the scan.": (r"x-ray|CT|imaged|scan", "A H"),
    "Results reviewed and acted on.": (r"result|report|ECG|histolog|Na |sodium|blood|sample", None),
    "Case discussed at M&M meeting.": (None, "A"),
    "Results system does not flag abnormal results.": (r"result|report|ECG|histolog|Na |sodium", None),
    "ED overcrowding, long waits to be seen.": (None, "A.ed A.paeds"),
    "No process for tracking reports.": (r"report|result|histolog|CT", None),
    "Triage tool did not capture the red flag.": (r"triag|111", None),
    "Pt had communication difficulties; no interpreter.": (r"assess|triag|missed|capacity", None),
    # consent, communication, confidentiality
    "IG breach reported via the information governance team.": (r"letter|email|sheet|records|disclosed|photograph|address|phone|HIV|form|overheard|plan", None),
    "Recipient asked to delete the email.": (r"email", None),
    "Letter retrieved.": (r"letter", None),
    "Interpreter booked for future appointments.": (r"interpret|BSL|language", None),
    "DNACPR discussion held with pt and family.": (r"DNACPR", None),
    "Caldicott Guardian informed.": (r"letter|email|sheet|records|disclosed|photograph|HIV|form", None),
    "Address not updated on the system.": (r"letter|address", None),
    "Autocomplete of email address.": (r"email", None),
    "Staff unaware of the interpreter booking process.": (r"interpret|BSL|language", None),
    "Shared computer left logged in.": (r"records|accessed", None),
    "Two pts with similar names.": (r"wrong pt|same name|GP of a pt|wrong service user", None),
    "Consent policy not followed.": (r"consent|MCA|DNACPR|results", None),
    "IG team notified.": (r"letter|email|sheet|records|disclosed|photograph|address|phone|HIV|form|plan", None),
    "The pt was upset by the disclosure.": (r"letter|email|sheet|records|disclosed|overheard|phone|HIV|results", None),
    # disruptive
    "Pt known to be aggressive when intoxicated.": (r"intoxicat", None),
    "Pt had been refused leave earlier.": (None, "M"),
    "Pt was waiting for a long time.": (None, "A.ed G"),
    "Rapid tranquillisation given per policy.": (r"restraint|tranquil", "M A"),
    "Pt moved to side room.": (None, "A H M"),
    "Behaviour contract/letter issued.": (None, "A G"),
    "Seclusion commenced and reviewed per policy.": (None, "M.ward"),
    "Pt intoxicated.": (r"intoxicat", None),
    "Long wait in ED.": (None, "A.ed"),
    "Smoking ban on site.": (None, "A M"),
    "Pt denied leave.": (None, "M"),
    "Delirium.": (r"delirium|pulled out|personal care", "A H"),
    "Pt acutely psychotic.": (None, "M"),
    "Insufficient staff to manage 1:1.": (None, "A H M L"),
    "Environment noisy and overstimulating.": (None, "A M L"),
    "Unmet need - pt in pain.": (None, "A H L"),
    # documentation
    "Records corrected and annotated.": (None, None),
    "Correct ID band applied.": (r"ID band", None),
    "Sample discarded and repeated.": (r"sample|WBIT", None),
    "Medical records department informed.": (r"notes|records", "A"),
    "Discharge summary amended and resent to GP.": (r"Discharge summary", None),
    "Audit of ID bands arranged.": (r"ID band", None),
    "Printer for ID labels not working.": (r"ID band|label", "A H"),
    "Pre-printed labels from another pt in the notes.": (r"label|sample|WBIT|notes", "A H"),
    "EPR and paper records running in parallel.": (None, "A H"),
    "No junior doctor on the ward that day.": (None, "A"),
    "Agency staff without EPR access.": (None, "A H"),
    # infrastructure
    "IT helpdesk ticket raised.": (r"EPR|eObs|ePMA|system|PACS|CAD|phone|results", None),
    "Estates contacted.": (r"leak|lift|heating|water|door|lock|ligature|call bell|power|air|pest|mice|cockroach|pigeon|rat|building", None),
    "Staff redeployed.": (r"staff|RN|cover|short", None),
    "Bank/agency requested.": (r"staff|RN|cover|short", None),
    "Pts moved to another area.": (r"leak|heating|air|pest|mice|cockroach|pigeon|rat|building|call bell", None),
    "Business continuity plan activated.": (r"down|power|system", None),
    "Temporary signage put up.": (r"leak|lift|water|call bell|door", None),
    "Long-standing vacancies.": (r"staff|RN|cover|short|DN team", None),
    "Sickness not covered.": (r"staff|RN|cover|short|DN team", None),
    "Ageing estate.": (r"leak|lift|heating|water|door|call bell|power|air|generator|ligature", None),
    "Planned maintenance overran.": (r"lift|heating|water|power|air|system|building", None),
    "Supplier delay.": (r"No |equipment", None),
    "Increased demand.": (r"OPEL|ambulance|call|visits|staff", None),
    "No escalation beds available.": (r"OPEL|corridor|staff", "A"),
    "Escalated to site manager.": (None, "A H"),
    "Estates informed.": (r"leak|lift|heating|water|door|lock|ligature|call bell|power|air|pest|mice|cockroach|pigeon|rat|building", None),
    "Staff redeployed from another ward.": (r"staff|RN|cover|short", "A H M"),
    # device
    "Device quarantined and sent to EBME.": (None, "A H"),
    "Device borrowed from another ward.": (None, "A H"),
    # infection control
    "Occupational health contacted for needlestick.": (r"needlestick", None),
    "Cannula removed and re-sited.": (r"cannula", None),
    "Stool sample sent.": (r"diarrh|C. diff|noro", None),
    "Pt isolated in a side room.": (r"C. diff|MRSA|noro|CPE|influenza|flu|COVID|VRE|diarrh|MSSA|E. coli", "A H"),
    "Contacts screened.": (r"C. diff|MRSA|noro|CPE|influenza|flu|COVID|VRE|outbreak", "A H"),
    "Outbreak meeting held.": (r"outbreak", None),
    "Enhanced cleaning requested.": (r"commode|outbreak|C. diff|noro|equipment|diarrh|CPE", None),
    "No side rooms available.": (r"isolat|open bay|bay with|side room", "A H"),
    "Results not checked.": (r"result|screen|swab", None),
    "Cannula not VIP scored.": (r"cannula", None),
    "Side rooms all occupied at the time.": (r"isolat|open bay|bay with|side room|diarrh", "A H"),
    # patient abuse
    "Staff member suspended pending investigation.": (r"staff|support worker|carer|colleague", None),
    "Pt moved to another area.": (None, "A H M L"),
    "LADO informed.": (r"staff|support worker|carer", None),
    "Lack of visibility of pts in side rooms.": (None, "A H M"),
    "Staff burnout and poor supervision.": (r"staff|support worker|carer|colleague|care home", None),
    # self-harm
    "Ligature cutter used.": (r"ligature", None),
    "Paracetamol levels taken.": (r"overdose|paracetamol|tablets", "A M"),
    "Wounds dressed.": (SELF_HARM_CUT, None),
    "Police informed of missing pt.": (r"abscond", None),
    "Room searched and items removed.": (None, "M A L"),
    "Transferred to ED.": (None, "M L"),
    "Obs increased to level {mh_level}.": (None, "M"),
    "Gap in observations due to staffing.": (None, "M A"),
    "Item not identified on room search.": (r"item|blade|glass|knife|lighter|razor|pen|batteries|screws", "M"),
    "Visitor brought in item.": (r"item|blade|glass|knife|lighter|razor|tablets", "M A"),
    "Ligature point in the bathroom.": (r"ligature", "M"),
    "Pt's mental state deteriorated after leave.": (None, "M"),
    "Observation level too low for risk.": (None, "M A"),
    "Room search had been completed that morning.": (None, "M"),
    "Pt was on anti-ligature bedding.": (r"ligature", "M"),
    # other
    "Property book checked.": (r"property|valuables|dentures|hearing|belongings|glasses|phone|ring|wallet|stick", None),
    "Property disclaimer signed.": (r"property|valuables|dentures|hearing|belongings|glasses|phone|ring|wallet|stick", None),
    "Replacement arranged.": (r"property|dentures|hearing|glasses|lost|stick", None),
    "Search carried out.": (r"property|valuables|dentures|hearing|belongings|lost|unknown person|alcohol", None),
    "Property procedure not followed.": (r"property|valuables|dentures|hearing|belongings|lost", None),
    "Multiple ward moves.": (r"lost|property|belongings|transfer", None),
    "Visitors not aware of policy.": (r"visitor|relative|food", None),
}

FOLLOWUPS = [
    "{doctor_cap} attended at {clock2} and reviewed the pt.", "Obs repeated at {clock2}: {obs_set}.",
    "{nok_cap} contacted by phone and updated.", "Handed over to the day team at 07:30.",
    "Plan discussed with the pt, who is happy with it.", "Will continue to monitor and escalate any concerns.",
    "Pt remains on the ward.", "Reported to the team leader on return to base.", "GP informed by phone.",
    "Shift coordinator aware.", "Safeguarding lead consulted.", "Incident form completed by {nurse} on the same shift.",
    "Pt reassured.", "Pt and family given the opportunity to ask questions.",
]
FITS.update({
    "{doctor_cap} attended at {clock2} and reviewed the pt.": (None, WARD),
    "Obs repeated at {clock2}: {obs_set}.": (None, "A H"),
    "Handed over to the day team at 07:30.": (None, WARD),
    "Pt remains on the ward.": (None, WARD),
    "Reported to the team leader on return to base.": (None, "P"),
    "GP informed by phone.": (None, "C L"),
    "Shift coordinator aware.": (None, WARD),
    "Safeguarding lead consulted.": (r"abuse|unknown origin|neglect|assault|disclos|money|restrain", None),
    "Pt and family given the opportunity to ask questions.": (None, "A H C G"),
})


def fits(text, ctx):
    """Whether a detail/action/cause suits this report's event text and setting."""
    pattern, where = FITS.get(text, (None, None))
    if pattern and not re.search(pattern, ctx["event"], re.IGNORECASE):
        return False
    return not where or any(token in (ctx["setting"], ctx["group"]) for token in where.split())


TYPOS = {
    "received": "recieved", "medication": "medicaiton", "patient": "pateint", "the": "teh", "occurred": "occured",
    "immediately": "immediatly", "administered": "adminstered", "because": "becuase", "separate": "seperate",
    "noticed": "noticd", "prescribed": "prescibed", "discharge": "dischrage", "documented": "documnted",
    "assessment": "assesment", "ambulance": "ambulence", "until": "untill", "which": "wich", "their": "thier",
    "commenced": "commened", "transferred": "transfered", "referred": "refered", "reviewed": "reveiwed",
    "with": "wiht", "and": "adn", "was": "wsa", "found": "foudn", "floor": "flor", "informed": "infomred",
    "pressure": "pressue", "given": "givne", "infusion": "infusoin", "sustained": "sustaned", "bleeding": "bleding",
    "observations": "obsevations", "escalated": "escalted", "insulin": "insluin", "before": "befor",
}

# ---------------------------------------------------------------------------
# Grammar expansion
# ---------------------------------------------------------------------------

SLOT = re.compile(r"\{(\w+?)(_cap)?(@)?\}")


def cap(text):
    return text[:1].upper() + text[1:]


def lookup(rng, key, ctx):
    """Pick the raw filler for one slot: the report context wins over the shared grammar."""
    if key in ctx:
        return ctx[key]
    return rng.choice(G[key])


def expand(rng, text, ctx, depth=0):
    """Recursively fill {slots}; '@' slots pick the filler list for the report's harm level."""
    if depth > 8:
        raise ValueError(f"grammar recursion too deep: {text}")

    def fill(match):
        key, capitalise, by_harm = match.groups()
        if by_harm:
            harm_key = f"{key}_{ctx['harm_key']}"
            raw = rng.choice(G[harm_key]) if harm_key in G else rng.choice(GENERIC_OUT[ctx["harm_key"]])
        else:
            raw = lookup(rng, key, ctx)
        value = expand(rng, raw, ctx, depth + 1)
        return cap(value) if capitalise else value

    return SLOT.sub(fill, text)


def tidy(text):
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r" +([.,;])", r"\1", text)
    text = re.sub(r"\.\.+", ".", text)
    return "\n".join(line.strip() for line in text.split("\n")).strip()


def weighted_choice(rng, weights):
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


# ---------------------------------------------------------------------------
# Incident reports
# ---------------------------------------------------------------------------

def template_groups(template, spec_settings, setting):
    """Location groups a template allows in a setting ([] when it does not fit that setting)."""
    tokens = (template["where"] or " ".join(spec_settings)).split()
    groups = []
    for token in tokens:
        if token == setting:
            groups.extend(DEFAULT_GROUPS[setting])
        elif token.startswith(setting + "."):
            groups.append(token)
    return groups


def pick_event(rng, spec, events, harm_key):
    """Choose a setting, an event template that fits it and the harm level, and a location group."""
    for _ in range(200):
        setting = weighted_choice(rng, spec["settings"])
        fitting = []
        for template in events:
            if template["harms"] and harm_key not in template["harms"]:
                continue
            groups = template_groups(template, spec["settings"], setting)
            if groups:
                fitting.append((template, groups))
        if fitting:
            template, groups = rng.choice(fitting)
            return setting, rng.choice(groups), template
    raise ValueError("no event template fits")


def patient_descriptor(rng, specialty):
    """A short 'who' phrase in ward shorthand, with an age that suits the specialty."""
    if specialty in PAEDS:
        age = rng.randint(1, 15)
        return rng.choice([f"{age}yo {rng.choice(['boy', 'girl'])}", f"child aged {age}", f"{age} y/o"])
    if specialty in MATERNITY:
        age = rng.randint(19, 43)
        return rng.choice([f"{age}yo woman", f"{age}yo, G{rng.randint(1, 4)}P{rng.randint(0, 3)}", "pt"])
    if specialty == "CAMHS":
        age = rng.randint(13, 17)
        return rng.choice([f"{age}yo", f"young person aged {age}"])
    # Most incident reports concern older adults, so adult ages lean towards 70-90.
    age = rng.randint(72, 99) if specialty in ELDERLY else round(rng.triangular(18, 98, 82))
    sex = rng.choice(["female", "male", "F", "M", "lady", "gentleman"])
    return rng.choice([f"{age}yo {sex}", f"{age} y/o {sex}", f"{sex} pt aged {age}", f"{age}-year-old {sex}",
                       f"pt ({age}{'F' if sex in ('female', 'F', 'lady') else 'M'})"])


def make_context(rng, setting, group, harm_key):
    location, specialties = rng.choice(LOCATIONS[group])
    specialty = rng.choice(specialties)
    staff = STAFF[setting]
    return {
        "setting": setting,
        "group": group,
        "care_setting": SETTINGS[setting],
        "location": location,
        "specialty": specialty,
        "harm_key": harm_key,
        "where": rng.choice(WHERE[group]),
        "ward_short": rng.choice([location, "the ward", location]) if setting in "AHM" else "the unit",
        "nurse": rng.choice(staff["nurse"]),
        "hca": rng.choice(staff["hca"]),
        "doctor": rng.choice(staff["doctor"]),
        "pt_desc": cap(patient_descriptor(rng, specialty)),
    }


def pick_outcome(rng, spec, harm_key):
    own = spec["out"].get(harm_key)
    if own and rng.random() < 0.8:
        return rng.choice(own)
    return rng.choice(GENERIC_OUT[harm_key])


def sample_fitting(rng, pool, ctx, count):
    usable = list(dict.fromkeys(t for t in pool if fits(t, ctx)))
    return rng.sample(usable, min(count, len(usable)))


def sample_details(rng, spec, ctx, count):
    pool = spec.get("details", []) * 2 + (GENERIC_DETAILS if spec.get("generic_details", True) else [])
    return [expand(rng, d, ctx) for d in sample_fitting(rng, pool, ctx, count)]


def compose_description(rng, spec, template, ctx):
    """Event + optional background/details + outcome, as one line, a paragraph or several paragraphs."""
    event = expand(rng, template["text"], ctx)
    ctx["event"] = event
    outcome = "" if "@}" in template["text"] else expand(rng, pick_outcome(rng, spec, ctx["harm_key"]), ctx)
    style = rng.choices(["short", "medium", "long"], weights=[32, 43, 25])[0]
    if style == "short":
        return tidy(f"{event} {outcome}")
    openings = OPENINGS.get(ctx["group"], OPENINGS[ctx["setting"]])
    opening = expand(rng, rng.choice(openings), ctx) if spec.get("generic_details", True) else ""
    if style == "medium":
        details = sample_details(rng, spec, ctx, rng.randint(0, 3))
        parts = ([opening] if rng.random() < 0.4 else []) + [event] + details + [outcome]
        return tidy(" ".join(parts))
    details = " ".join(sample_details(rng, spec, ctx, rng.randint(2, 5)))
    followups = " ".join(expand(rng, f, ctx) for f in sample_fitting(rng, FOLLOWUPS, ctx, rng.randint(1, 3)))
    if opening and rng.random() < 0.3:
        return tidy(f"Background: {opening}\n\nWhat happened: {event} {details}\n\nOutcome: {outcome} {followups}")
    return tidy(f"{opening} {event}\n\n{details}\n\n{outcome} {followups}")


def misspell(rng, text):
    words = [m for m in re.finditer(r"[A-Za-z]+", text) if m.group(0).lower() in TYPOS]
    if not words:
        return transpose(rng, text)
    for m in sorted(rng.sample(words, min(len(words), rng.randint(1, 3))), key=lambda m: -m.start()):
        wrong = TYPOS[m.group(0).lower()]
        wrong = cap(wrong) if m.group(0)[0].isupper() else wrong
        text = text[:m.start()] + wrong + text[m.end():]
    return text


def transpose(rng, text):
    words = [m for m in re.finditer(r"[a-z]{6,}", text)]
    if not words:
        return text
    m = rng.choice(words)
    i = rng.randint(1, len(m.group(0)) - 3)
    w = m.group(0)
    return text[:m.start()] + w[:i] + w[i + 1] + w[i] + w[i + 2:] + text[m.end():]


def double_word(rng, text):
    words = [m for m in re.finditer(r"\b(the|to|was|and|pt|in|of|on)\b", text)]
    if not words:
        return text
    m = rng.choice(words)
    return text[:m.end()] + " " + m.group(0) + text[m.end():]


def drop_capitals(rng, text):
    if rng.random() < 0.4:
        return text.lower()
    return re.sub(r"(^|[.!?]\s+)([A-Z])(?=[a-z])", lambda m: m.group(1) + m.group(2).lower(), text)


def sloppy_spacing(rng, text):
    return text.replace(". ", ".", rng.randint(1, 2)) if rng.random() < 0.5 else text.replace(", ", " ,", 1)


TYPO_OPS = [misspell, misspell, misspell, double_word, drop_capitals, sloppy_spacing]


def add_typos(rng, text):
    for op in rng.sample(TYPO_OPS, rng.randint(1, 2)):
        text = op(rng, text)
    return text


def pick_actions(rng, spec, ctx):
    if rng.random() < 0.2:
        return ""
    chosen = sample_fitting(rng, spec["actions"] * 2 + GENERIC_ACTIONS, ctx, rng.randint(1, 3))
    harm_key = ctx["harm_key"]
    if harm_key in ("mod", "sev", "death") and rng.random() < 0.7:
        chosen.append(rng.choice(HARMFUL_ACTIONS))
    if harm_key == "death" and rng.random() < 0.8:
        chosen.append(rng.choice(DEATH_ACTIONS))
    chosen = list(dict.fromkeys(expand(rng, a, ctx) for a in chosen))
    style = rng.random()
    if style < 0.2:
        return "\n".join(f"- {a}" for a in chosen)
    if style < 0.4:
        return "; ".join(a.rstrip(".") for a in chosen)
    return " ".join(chosen)


def pick_causes(rng, spec, ctx):
    if rng.random() < 0.45:
        return ""
    chosen = sample_fitting(rng, spec["causes"] * 2 + GENERIC_CAUSES, ctx, rng.randint(1, 2))
    return " ".join(dict.fromkeys(expand(rng, c, ctx) for c in chosen))


def make_incident(rng, category, harm, occurred_at, spec=None, events=None):
    """One incident report row; `harm` is the text-implied (true) harm."""
    spec = spec or SPECS[category]
    harm_key = HARM_KEYS[HARMS.index(harm)]
    setting, group, template = pick_event(rng, spec, events or spec["events"], harm_key)
    ctx = make_context(rng, setting, group, harm_key)
    description = compose_description(rng, spec, template, ctx)
    if rng.random() < TYPO_RATE:
        description = add_typos(rng, description)
    return {
        "occurred_at": occurred_at.isoformat(),
        "care_setting": ctx["care_setting"],
        "specialty": ctx["specialty"],
        "location": ctx["location"],
        "description": description,
        "actions": pick_actions(rng, spec, ctx),
        "causes": pick_causes(rng, spec, ctx),
        "category": category,
        "harm": harm,
    }


def random_date(rng, start, end):
    return start + dt.timedelta(days=rng.randint(0, (end - start).days))


def sample_category(rng):
    return weighted_choice(rng, {c: SPECS[c]["weight"] for c in CATEGORIES})


def sample_harm(rng, weights):
    return rng.choices(HARMS, weights=weights)[0]


def reporter_harm(rng, harm):
    """Reporters mostly agree with the reviewed harm, else over/under-grade, usually by one level."""
    if rng.random() >= REPORTER_DISAGREEMENT:
        return harm
    i = HARMS.index(harm)
    step = 1 if rng.random() < 0.85 else 2
    direction = rng.choice([-1, 1])
    j = i + direction * step
    if not 0 <= j < len(HARMS):
        j = i - direction * step
    return HARMS[max(0, min(len(HARMS) - 1, j))]


def theme_incident(rng):
    category = weighted_choice(rng, THEME["categories"])
    # Triangular dates: reports grow through the two months, as a new failure mode would.
    span = (END - THEME_START).days
    occurred_at = THEME_START + dt.timedelta(days=round(rng.triangular(0, span, span * 0.7)))
    harm = sample_harm(rng, THEME["harm"])
    return make_incident(rng, category, harm, occurred_at, spec=THEME, events=THEME["events"][category])


def near_duplicate(rng, row):
    """A second report of the same event by another member of staff: same facts, reworded slightly."""
    copy = dict(row)
    day = dt.date.fromisoformat(row["occurred_at"]) + dt.timedelta(days=rng.choice([0, 0, 1]))
    copy["occurred_at"] = min(day, END).isoformat()
    copy["description"] = add_typos(rng, row["description"])
    if rng.random() < 0.5:
        copy["actions"] = ""
    return copy


def make_incidents(rng):
    rows = []
    for _ in range(N_INCIDENTS - N_THEME - N_NEAR_DUPLICATES):
        category = sample_category(rng)
        rows.append(make_incident(rng, category, sample_harm(rng, SPECS[category]["harm"]), random_date(rng, START, END)))
    rows += [near_duplicate(rng, rng.choice(rows)) for _ in range(N_NEAR_DUPLICATES)]
    rows += [theme_incident(rng) for _ in range(N_THEME)]
    for row in rows:
        row["harm"] = reporter_harm(rng, row["harm"])
    rows.sort(key=lambda r: r["occurred_at"])
    for i, row in enumerate(rows, 1):
        row["id"] = f"INC-{i:06d}"
    return rows


def unique_incident(rng, category, harm, seen):
    """Generate a pre-theme report whose description is not already in `seen` (demo or gold)."""
    for _ in range(50):
        row = make_incident(rng, category, harm, random_date(rng, START, THEME_START - dt.timedelta(days=1)))
        if row["description"] not in seen:
            seen.add(row["description"])
            return row
    raise ValueError("could not generate a unique gold report")


def number_gold(rows, first):
    rows.sort(key=lambda r: r["occurred_at"])
    for i, row in enumerate(rows, first):
        row["id"] = f"GOLD-INC-{i:04d}"
    return rows


def make_gold_incident_type(rng, seen):
    """Category-stratified gold: at least 5 per category, the rest in the usual mix."""
    categories = [c for c in CATEGORIES for _ in range(5)]
    categories += [sample_category(rng) for _ in range(N_GOLD - len(categories))]
    rows = [unique_incident(rng, c, sample_harm(rng, SPECS[c]["harm"]), seen) for c in categories]
    return number_gold(rows, 1)


GOLD_HARM_COUNTS = {"No harm": 100, "Low": 70, "Moderate": 40, "Severe": 20, "Death": 20}


def make_gold_harm(rng, seen):
    """Harm gold with rare levels over-sampled; harm here is the reviewed (text-implied) harm."""
    rows = []
    for harm, count in GOLD_HARM_COUNTS.items():
        i = HARMS.index(harm)
        weights = {c: SPECS[c]["weight"] * SPECS[c]["harm"][i] for c in CATEGORIES if SPECS[c]["harm"][i] > 0}
        rows += [unique_incident(rng, weighted_choice(rng, weights), harm, seen) for _ in range(count)]
    return number_gold(rows, N_GOLD + 1)


# ---------------------------------------------------------------------------
# Chest X-ray reports. Every sentence is generated from a (finding, status)
# item, so the labels are exactly what the text says: positive statements,
# hedged ones (possible / cannot exclude / may represent / versus) -> uncertain,
# negated or resolved ones -> negative, not mentioned -> empty. Generic
# sentences ("The lungs are clear.") name no finding and set no label.
# ---------------------------------------------------------------------------

G.update({
    "x_side": ["left", "right"],
    "x_lobe": ["right upper lobe", "right middle lobe", "right lower lobe", "left upper lobe", "left lower lobe", "lingula"],
    "x_base": ["left base", "right base", "lung bases", "left lung base", "right lung base"],
    "x_basilar": ["left basilar", "right basilar", "bibasilar", "left lower lobe", "right lower lobe", "retrocardiac"],
    "x_opac": ["Patchy {x_basilar} opacity", "Streaky {x_basilar} opacity", "Hazy {x_basilar} opacity",
               "Ill-defined {x_lobe} opacity"],
    "x_sev": ["mild", "moderate", "marked", "mild", "stable mild"],
    "x_sev_adv": ["mildly", "moderately", "markedly"],
    "x_eff_size": ["small", "moderate", "large", "trace", "small to moderate", "small"],
    "x_ptx_size": ["small", "moderate", "large", "small"],
    "x_atel_deg": ["mild", "minimal", "linear", "platelike", "subsegmental"],
    "x_atel_kind": ["subsegmental", "linear", "streaky", "discoid"],
    "x_cm": ["3.4", "3.8", "4.0", "4.5", "5.2", "6.0", "7.5"],
    "x_cm_small": ["1.5", "1.8", "2.0", "2.5", "3.0"],
    "x_mm": ["4", "5", "6", "7", "8", "9", "10", "12", "14"],
    "x_ptx_cm": ["1.2", "2", "2.5", "3", "4"],
})

POS = {
    "Atelectasis": (["{x_atel_deg} atelectasis at the {x_base}", "bibasilar {x_atel_kind} atelectasis",
                     "{x_atel_deg} {x_side} basilar atelectasis", "{x_atel_kind} atelectasis in the {x_lobe}"],
                    ["Platelike atelectasis at the {x_base}.", "Low lung volumes with bibasilar atelectasis."]),
    "Cardiomegaly": (["{x_sev} cardiomegaly", "{x_sev} enlargement of the cardiac silhouette"],
                     ["The heart is {x_sev_adv} enlarged.", "Heart size is enlarged.", "Cardiomegaly."]),
    "Effusion": (["{x_eff_size} {x_side} pleural effusion", "small bilateral pleural effusions",
                  "{x_eff_size} {x_side} pleural effusion with blunting of the costophrenic angle",
                  "{x_side} pleural effusion"],
                 ["Blunting of the {x_side} costophrenic angle consistent with a small pleural effusion."]),
    "Infiltration": (["patchy {x_lobe} infiltrate", "bilateral interstitial infiltrates",
                      "diffuse reticulonodular infiltrates", "{x_side} perihilar infiltrate"], []),
    "Mass": (["{x_cm} cm mass in the {x_lobe}", "{x_side} hilar mass", "large lobulated mass in the {x_lobe}"],
             ["There is a {x_cm} cm mass in the {x_lobe}, concerning for malignancy; CT recommended."]),
    "Nodule": (["{x_mm} mm nodule in the {x_lobe}", "calcified nodule in the {x_lobe}", "multiple small pulmonary nodules",
                "{x_mm} mm {x_lobe} nodule"], []),
    "Pneumonia": (["{x_lobe} pneumonia", "multifocal pneumonia", "bibasilar pneumonia"],
                  ["Findings consistent with {x_lobe} pneumonia."]),
    "Pneumothorax": (["{x_ptx_size} {x_side} pneumothorax", "small {x_side} apical pneumothorax",
                      "{x_side} pneumothorax measuring {x_ptx_cm} cm at the apex"], []),
    "Consolidation": (["{x_lobe} consolidation", "airspace consolidation at the {x_base}",
                       "dense {x_lobe} consolidation with air bronchograms", "patchy consolidation in the {x_lobe}"], []),
    "Edema": (["mild pulmonary edema", "interstitial pulmonary edema", "pulmonary vascular congestion",
               "moderate pulmonary edema", "mild interstitial edema"],
              ["Perihilar haziness and Kerley B lines consistent with interstitial edema.",
               "Cephalization of the pulmonary vasculature consistent with vascular congestion."]),
    "Emphysema": (["emphysema", "upper lobe predominant emphysema", "centrilobular emphysema", "emphysematous changes"],
                  ["Hyperinflated lungs consistent with emphysema.",
                   "The lungs are hyperexpanded with flattened hemidiaphragms, compatible with emphysema."]),
    "Fibrosis": (["bibasilar pulmonary fibrosis", "chronic interstitial fibrosis", "apical fibrotic changes",
                  "fibrosis at the lung bases"], ["Reticular opacities at the bases consistent with pulmonary fibrosis."]),
    "Pleural_Thickening": (["{x_side} apical pleural thickening", "bilateral pleural thickening", "{x_side} pleural thickening"],
                           ["Calcified pleural plaques with associated pleural thickening."]),
    "Hernia": (["hiatal hernia", "moderate-sized hiatal hernia", "small hiatus hernia", "large hiatal hernia"],
               ["Retrocardiac opacity with an air-fluid level consistent with a hiatal hernia.", "Hiatal hernia noted."]),
}
POS_WRAP = ["{np}.", "{np}.", "{np} noted.", "Persistent {np}.", "Stable {np}.", "New {np}.",
            "Interval improvement in {np}.", "Again seen is {np}."]

UNC = {
    "Atelectasis": (["atelectasis", "{x_base} atelectasis", "subsegmental atelectasis"],
                    ["Streaky {x_basilar} opacity, possibly atelectasis."]),
    "Cardiomegaly": (["mild cardiomegaly", "cardiomegaly"],
                     ["Heart size is borderline and mild cardiomegaly cannot be excluded given AP technique.",
                      "The cardiac silhouette may be mildly enlarged."]),
    "Effusion": (["a small {x_side} pleural effusion", "trace {x_side} pleural effusion", "a small effusion"],
                 ["Blunting of the {x_side} costophrenic angle may represent a small effusion."]),
    "Infiltration": (["an infiltrate", "early infiltrate", "{x_lobe} infiltrate"], []),
    "Mass": (["a {x_side} hilar mass", "an underlying mass"],
             ["Prominent {x_side} hilum; a hilar mass cannot be excluded, CT recommended."]),
    "Nodule": (["a small nodule in the {x_lobe}", "a pulmonary nodule"],
               ["Possible small nodule in the {x_lobe}, recommend CT.",
                "Nodular density in the {x_lobe} may represent a nipple shadow versus a true nodule; repeat with nipple markers."]),
    "Pneumonia": (["early pneumonia", "pneumonia", "an early {x_lobe} pneumonia"],
                  ["Cannot exclude early pneumonia.", "Findings may represent early pneumonia in the appropriate clinical setting."]),
    "Pneumothorax": (["a tiny {x_side} apical pneumothorax", "a small {x_side} pneumothorax"],
                     ["Cannot exclude a small {x_side} apical pneumothorax; consider an expiratory view."]),
    "Consolidation": (["early consolidation", "consolidation in the {x_lobe}", "{x_base} consolidation"],
                      ["Patchy opacity at the {x_base}, consolidation not excluded."]),
    "Edema": (["mild pulmonary edema", "mild vascular congestion", "early interstitial edema"],
              ["Perihilar haziness which may represent early edema."]),
    "Emphysema": (["emphysema"], ["Hyperinflation, which may reflect emphysema.", "Lungs are hyperexpanded, possibly due to emphysema."]),
    "Fibrosis": (["early fibrosis", "pulmonary fibrosis"], ["Coarse interstitial markings, possibly fibrosis."]),
    "Pleural_Thickening": (["{x_side} apical pleural thickening", "pleural thickening"], ["Possible {x_side} apical pleural thickening."]),
    "Hernia": (["a hiatal hernia", "a small hiatal hernia"], ["Retrocardiac opacity may represent a hiatal hernia."]),
}
SHORT_NAME = {"Atelectasis": "Atelectasis.", "Cardiomegaly": "Cardiomegaly.", "Effusion": "Pleural effusion.",
              "Infiltration": "Pulmonary infiltrate.", "Mass": "Pulmonary mass; CT recommended.", "Nodule": "Pulmonary nodule.",
              "Pneumonia": "Pneumonia.", "Pneumothorax": "Pneumothorax.", "Consolidation": "Consolidation.",
              "Edema": "Interstitial edema.", "Emphysema": "Emphysema.", "Fibrosis": "Pulmonary fibrosis.",
              "Pleural_Thickening": "Pleural thickening.", "Hernia": "Hiatal hernia."}
UNC_NEUTRAL = {"Atelectasis": "atelectasis", "Cardiomegaly": "mild cardiomegaly", "Effusion": "a small pleural effusion",
               "Infiltration": "an infiltrate", "Mass": "a mass", "Nodule": "a pulmonary nodule", "Pneumonia": "early pneumonia",
               "Pneumothorax": "a small pneumothorax", "Consolidation": "early consolidation", "Edema": "mild edema",
               "Emphysema": "emphysema", "Fibrosis": "fibrosis", "Pleural_Thickening": "pleural thickening",
               "Hernia": "a hiatal hernia"}
UNC_WRAP = ["Possible {u}.", "Cannot exclude {u}.", "{opac} which may represent {u}.", "Questionable {u}.",
            "{U} cannot be excluded.", "Findings could reflect {u}."]

PAIRS = {
    ("Atelectasis", "Infiltration"): (["Bibasilar atelectasis versus infiltrate.", "{x_opac}, atelectasis versus infiltrate."],
                                      "Atelectasis versus infiltrate."),
    ("Atelectasis", "Pneumonia"): (["{x_opac}, atelectasis versus pneumonia.", "{x_opac} may represent atelectasis or pneumonia."],
                                   "Atelectasis versus pneumonia."),
    ("Atelectasis", "Consolidation"): (["{x_opac}, atelectasis versus consolidation."], "Atelectasis versus consolidation."),
    ("Fibrosis", "Infiltration"): (["Coarse reticular opacities, fibrosis versus chronic infiltrate."],
                                   "Fibrosis versus chronic infiltrate."),
    ("Effusion", "Pleural_Thickening"): (["Blunting of the {x_side} costophrenic angle, small effusion versus pleural thickening."],
                                         "Small effusion versus pleural thickening."),
    ("Edema", "Infiltration"): (["Bilateral perihilar opacities, edema versus infiltrate."], "Edema versus infiltrate."),
    ("Nodule", "Mass"): (["{x_cm_small} cm nodular opacity in the {x_lobe}, nodule versus mass; CT recommended."],
                         "Nodule versus mass; CT recommended."),
}

NEG_TERMS = {
    "Pneumothorax": ["pneumothorax"], "Effusion": ["pleural effusion", "effusion", "pleural effusions"],
    "Consolidation": ["focal consolidation", "consolidation", "focal airspace consolidation"],
    "Edema": ["pulmonary edema", "edema", "vascular congestion"], "Pneumonia": ["pneumonia"],
    "Infiltration": ["focal infiltrate", "infiltrates"], "Mass": ["mass", "suspicious mass"],
    "Nodule": ["suspicious pulmonary nodule", "nodules"], "Atelectasis": ["atelectasis"], "Emphysema": ["emphysema"],
    "Fibrosis": ["fibrosis"], "Pleural_Thickening": ["pleural thickening"], "Hernia": ["hiatal hernia"],
}
NEG_HEART = ["Heart size is normal.", "The heart is normal in size.", "Normal heart size.",
             "The cardiomediastinal silhouette is within normal limits.", "Heart size within normal limits.",
             "No cardiomegaly.", "The heart is not enlarged."]
NEG_RESOLVED = {
    "Effusion": "Previously seen {x_side} pleural effusion has resolved.",
    "Consolidation": "Interval resolution of {x_lobe} consolidation.",
    "Pneumothorax": "The previously seen {x_side} pneumothorax has resolved.",
    "Pneumonia": "Resolution of the previous {x_lobe} pneumonia.",
    "Edema": "Previously seen pulmonary edema has cleared.",
    "Atelectasis": "Previously noted atelectasis has resolved.",
}
# Probability that a study checks (and negates) a finding it does not otherwise report.
NEG_CHECK = {"Cardiomegaly": 0.75, "Pneumothorax": 0.7, "Effusion": 0.75, "Consolidation": 0.6, "Edema": 0.3,
             "Pneumonia": 0.08, "Infiltration": 0.08, "Nodule": 0.06, "Mass": 0.05, "Atelectasis": 0.03,
             "Emphysema": 0.02, "Fibrosis": 0.01, "Pleural_Thickening": 0.01, "Hernia": 0.01}
POS_WEIGHTS = {"Cardiomegaly": 18, "Effusion": 14, "Atelectasis": 14, "Infiltration": 8, "Consolidation": 8,
               "Pneumonia": 6, "Nodule": 8, "Emphysema": 9, "Hernia": 5, "Edema": 7, "Fibrosis": 4,
               "Pleural_Thickening": 5, "Mass": 2, "Pneumothorax": 3}
ACUTE_FIRST = ["Pneumothorax", "Mass", "Pneumonia", "Consolidation", "Edema", "Effusion", "Infiltration", "Nodule",
               "Cardiomegaly", "Atelectasis", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia"]
CHRONIC = {"Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia", "Cardiomegaly"}
SECTION = {"Cardiomegaly": 1, "Hernia": 2, "Emphysema": 3, "Fibrosis": 3, "Mass": 3, "Nodule": 3, "Infiltration": 3,
           "Consolidation": 3, "Pneumonia": 3, "Atelectasis": 3, "Edema": 3, "Effusion": 4, "Pleural_Thickening": 4,
           "Pneumothorax": 4}
LUNG = {f for f, s in SECTION.items() if s == 3}

CXR_PREAMBLE = ["PA and lateral views of the chest.", "AP portable view.", "Comparison made with the prior study.",
                "Frontal and lateral views of the chest.", "Single AP view."]
CXR_MEDIASTINUM = ["The mediastinum is unremarkable.", "Mediastinal contours are normal.", "Normal mediastinal contour.",
                   "The aorta is tortuous.", "Atherosclerotic calcification of the aortic arch.", "Stable mediastinal contours."]
CXR_CLEAR = ["The lungs are clear.", "Lungs are clear bilaterally.", "The lungs are well expanded and clear.", "Clear lungs."]
CXR_OTHERWISE = ["The lungs are otherwise clear.", "Lungs otherwise clear."]
CXR_BONES = ["No acute bony abnormality.", "Degenerative changes of the thoracic spine.",
             "The visualized osseous structures are intact.", "Old healed {x_side} rib fractures.", "Mild thoracic spondylosis.",
             "Osseous structures are unremarkable."]
CXR_DEVICES = ["Sternotomy wires are intact.", "Right-sided PICC line with tip in the SVC.",
               "Left-sided pacemaker with leads in good position.", "NG tube tip below the diaphragm.",
               "Surgical clips in the right upper quadrant.", "Right IJ central venous catheter tip at the cavoatrial junction.",
               "ET tube tip {x_cm_small} cm above the carina."]
CXR_NORMAL_IMPRESSION = ["No acute cardiopulmonary abnormality.", "No acute cardiopulmonary process.",
                         "Normal chest radiograph.", "No active disease.", "No acute disease.", "Normal chest x-ray.",
                         "No acute findings.", "Clear lungs. No acute process.", "Stable chest, no acute abnormality."]


def x(rng, text):
    return expand(rng, text, {})


def positive_item(rng, finding):
    nps, sentences = POS[finding]
    np_ = x(rng, rng.choice(nps))
    if sentences and rng.random() < 0.3:
        # A free-standing sentence has its own laterality, so the impression uses a side-neutral name.
        return {"findings": (finding,), "status": "positive", "text": x(rng, rng.choice(sentences)),
                "impression": SHORT_NAME[finding]}
    text = cap(rng.choice(POS_WRAP).format(np=np_, NP=cap(np_)))
    return {"findings": (finding,), "status": "positive", "text": text, "impression": cap(np_) + "."}


def hedge(rng, finding, phrase, exclude=None):
    wraps = [w for w in UNC_WRAP if w != exclude and (finding in LUNG or "{opac}" not in w)]
    wrap = rng.choice(wraps)
    return cap(wrap.format(u=phrase, U=cap(phrase), opac=x(rng, rng.choice(G["x_opac"])))), wrap


def uncertain_item(rng, finding):
    phrases, sentences = UNC[finding]
    phrase = x(rng, rng.choice(phrases))
    if sentences and rng.random() < 0.4:
        text, wrap = x(rng, rng.choice(sentences)), None
        phrase = UNC_NEUTRAL[finding]
    else:
        text, wrap = hedge(rng, finding, phrase)
    impression, _ = hedge(rng, finding, phrase, exclude=wrap)
    return {"findings": (finding,), "status": "uncertain", "text": text, "impression": impression}


def pair_item(rng, pair):
    sentences, impression = PAIRS[pair]
    return {"findings": pair, "status": "uncertain", "text": x(rng, rng.choice(sentences)), "impression": impression}


def join_terms(terms, oxford):
    if len(terms) == 1:
        return terms[0]
    return ", ".join(terms[:-1]) + (", or " if oxford and len(terms) > 2 else " or ") + terms[-1]


def negative_items(rng, findings):
    """Negated findings: the heart gets its own sentence, the rest are merged into one or two 'No ...' lists."""
    items = []
    rest = []
    for finding in findings:
        if finding == "Cardiomegaly":
            items.append({"findings": (finding,), "status": "negative", "text": rng.choice(NEG_HEART), "section": 1})
        elif finding in NEG_RESOLVED and rng.random() < 0.06:
            items.append({"findings": (finding,), "status": "negative", "text": x(rng, NEG_RESOLVED[finding]), "section": 5})
        else:
            rest.append(finding)
    rng.shuffle(rest)
    chunks = [rest] if len(rest) <= 3 or rng.random() < 0.5 else [rest[:len(rest) // 2], rest[len(rest) // 2:]]
    for chunk in chunks:
        if not chunk:
            continue
        terms = [rng.choice(NEG_TERMS[f]) for f in chunk]
        lead = rng.choice(["No ", "No ", "There is no ", "No evidence of "])
        tail = rng.choice(["", "", " identified", " seen"])
        text = f"{lead}{join_terms(terms, rng.random() < 0.5)}{tail}."
        items.append({"findings": tuple(chunk), "status": "negative", "text": text, "section": 5})
    return items


def weighted_sample(rng, weights, k):
    pool = dict(weights)
    chosen = []
    for _ in range(min(k, len(pool))):
        pick = weighted_choice(rng, pool)
        chosen.append(pick)
        del pool[pick]
    return chosen


def choose_abnormal(rng, forced_pos=None, forced_unc=None):
    """Decide which findings are positive and which hedged; returns (positives, uncertain singles, pairs)."""
    positives, singles, pairs = [], [], []
    if forced_unc:
        singles.append(forced_unc)
    elif forced_pos or rng.random() > 0.12:
        n = rng.choices([1, 2, 3, 4], weights=[50, 30, 15, 5])[0]
        positives = weighted_sample(rng, {f: w for f, w in POS_WEIGHTS.items() if f != forced_pos}, n - bool(forced_pos))
        positives = ([forced_pos] if forced_pos else []) + positives
        for trigger, partner, p in [("Pneumonia", "Consolidation", 0.5), ("Edema", "Cardiomegaly", 0.5),
                                    ("Effusion", "Atelectasis", 0.3)]:
            if trigger in positives and partner not in positives and rng.random() < p:
                positives.append(partner)
    if not positives or rng.random() < 0.25:
        taken = set(positives) | set(singles)
        free_pairs = [p for p in PAIRS if not taken & set(p)]
        if free_pairs and rng.random() < 0.4:
            pairs.append(rng.choice(free_pairs))
        elif not singles:
            singles.append(weighted_choice(rng, {f: w for f, w in POS_WEIGHTS.items() if f not in taken}))
    return positives, singles, pairs


def build_impression(rng, items, negatives):
    findings_items = [i for i in items if i["status"] != "negative"]
    if not findings_items:
        return rng.choice(CXR_NORMAL_IMPRESSION)
    findings_items.sort(key=lambda i: ACUTE_FIRST.index(i["findings"][0]))
    shown = findings_items[:rng.randint(1, 3)]
    lines = [i["impression"] for i in shown]
    if all(i["findings"][0] in CHRONIC for i in shown) and rng.random() < 0.5:
        lines.append("No acute cardiopulmonary process.")
    elif rng.random() < 0.2:
        lines.append("Otherwise no acute abnormality.")
    ptx = [n for n in negatives if n["findings"] == ("Pneumothorax",)]
    if ptx and rng.random() < 0.5:
        lines.append("No pneumothorax.")
    if len(lines) > 1 and rng.random() < 0.25:
        return " ".join(f"{n}. {line}" for n, line in enumerate(lines, 1))
    return " ".join(lines)


def cxr_report(rng, normal, forced_pos=None, forced_unc=None):
    """One chest X-ray report: (findings text, impression text, {finding: label})."""
    positives, singles, pairs = ([], [], []) if normal else choose_abnormal(rng, forced_pos, forced_unc)
    items = [positive_item(rng, f) for f in positives] + [uncertain_item(rng, f) for f in singles]
    items += [pair_item(rng, p) for p in pairs]
    for item in items:
        item["section"] = SECTION[item["findings"][0]]
    mentioned = {f for i in items for f in i["findings"]}
    negated = [f for f in FINDINGS if f not in mentioned and rng.random() < NEG_CHECK[f]]
    negatives = negative_items(rng, negated)
    sentences = render_findings(rng, items + negatives, mentioned)
    labels = {f: "" for f in FINDINGS}
    for item in items + negatives:
        for f in item["findings"]:
            labels[f] = item["status"]
    return " ".join(sentences), build_impression(rng, items, negatives), labels


def render_findings(rng, items, mentioned):
    """Order sentences as a radiologist would: views, heart, mediastinum, lungs, pleura, other."""
    ordered = sorted(items, key=lambda i: (i["section"], FINDINGS.index(i["findings"][0])))
    lung_abnormal = any(f in LUNG for i in items if i["status"] != "negative" for f in i["findings"])
    out = [rng.choice(CXR_PREAMBLE)] if rng.random() < 0.3 else []
    for section in range(1, 6):
        out += [i["text"] for i in ordered if i["section"] == section]
        if section == 2 and rng.random() < 0.5:
            out.append(rng.choice(CXR_MEDIASTINUM))
        if section == 3:
            if not lung_abnormal and rng.random() < 0.7:
                out.append(rng.choice(CXR_CLEAR))
            elif lung_abnormal and rng.random() < 0.3:
                out.append(rng.choice(CXR_OTHERWISE))
    if rng.random() < 0.15:
        out.append(x(rng, rng.choice(CXR_DEVICES)))
    if rng.random() < 0.4:
        out.append(x(rng, rng.choice(CXR_BONES)))
    if not out:
        out.append(rng.choice(CXR_CLEAR))
    return out


def cxr_row(findings, impression, labels):
    return {"findings": findings, "impression": impression, **labels}


def make_cxr(rng, n, prefix, width, seen, forced=()):
    """n reports (normal ~37 %); `forced` lists (finding, status) cases that must appear; (findings, impression) unique vs `seen`."""
    plan = list(forced) + [None] * (n - len(forced))
    rng.shuffle(plan)
    rows = []
    for case in plan:
        for _ in range(50):
            if case is None:
                report = cxr_report(rng, normal=rng.random() < 0.37)
            elif case[1] == "positive":
                report = cxr_report(rng, False, forced_pos=case[0])
            else:
                report = cxr_report(rng, False, forced_unc=case[0])
            key = report[:2]
            if key not in seen:
                seen.add(key)
                break
        rows.append(cxr_row(*report))
    for i, row in enumerate(rows, 1):
        row["id"] = f"{prefix}{i:0{width}d}"
    return rows


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------

def write_csv(path, rows, columns):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()

    # Separate streams so that changing one output never reshuffles another.
    def stream(name):
        return random.Random(f"{args.seed}:{name}")

    incidents = make_incidents(stream("incidents"))
    seen = {r["description"] for r in incidents}
    gold_type = make_gold_incident_type(stream("gold-incident-type"), seen)
    gold_harm = make_gold_harm(stream("gold-harm"), seen)

    cxr_seen = set()
    cxr = make_cxr(stream("cxr"), N_CXR, "CXR-", 6, cxr_seen)
    forced = [(f, "positive") for f in FINDINGS for _ in range(6)] + [(f, "uncertain") for f in FINDINGS for _ in range(2)]
    gold_cxr = make_cxr(stream("gold-cxr"), N_GOLD, "GOLD-CXR-", 4, cxr_seen, forced)

    out = args.out_dir
    write_csv(out / "demo" / "incidents.csv", incidents, INCIDENT_COLUMNS + ["category", "harm"])
    write_csv(out / "demo" / "cxr_reports.csv", cxr, CXR_COLUMNS)
    write_csv(out / "gold" / "incident-type.csv", gold_type, INCIDENT_COLUMNS + ["category"])
    write_csv(out / "gold" / "harm.csv", gold_harm, INCIDENT_COLUMNS + ["harm"])
    write_csv(out / "gold" / "cxr-findings.csv", gold_cxr, CXR_COLUMNS)


if __name__ == "__main__":
    main()
