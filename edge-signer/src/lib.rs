//! edgeseal edge-signer: filled in by its own issue; the workspace member exists so the layout and CI are in place.
