package handlers

func (s *Server) registerInventoryRoutes() {}
