"""What is built on the reference files beside this folder: see README.md here."""
