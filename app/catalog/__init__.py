"""What a workspace holds, for builders to offer: tags, field keys, event names."""
