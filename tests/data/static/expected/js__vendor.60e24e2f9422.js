var cdn = 1;
//# sourceMappingURL=https://cdn.example.com/vendor.js.map
