// Lands with its issue; nothing is exported yet.
export {};
