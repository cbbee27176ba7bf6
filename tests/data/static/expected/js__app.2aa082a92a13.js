console.log("app");
//# sourceMappingURL=app.js.ca8eaa6cc1b1.map
