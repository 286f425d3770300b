"""A clinic's own look: its name, logo, accent colour and support phone on every patient
page and email (`look.py`), the accent's contrast check (`contrast.py`), the checked,
resized images of the logo and the therapists' photos (`images.py`, `upload.py`) and the
therapist's card in the waiting room (`profile.py`). See docs/clinic.md."""
